"""Your site: config, ingest, chunks, persona draft."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cli.common import (
    IndexOption,
    app,
    check_index_writable,
    chunks_or_fail,
    console,
    err,
    fail,
    fail_os,
    settings_from_env,
)


@app.command()
def config() -> None:
    """Print the resolved settings (secrets masked) and the providers they select."""
    settings = settings_from_env()
    table = Table("setting", "value", title="workbench settings")
    for key, value in settings.masked().items():
        table.add_row(key, value)
    console.print(table)


@app.command()
def ingest(
    path: Path | None = typer.Argument(None, help="Corpus folder (default: RAG_CORPUS_DIR, the demo corpus)."),
    index: Path | None = IndexOption,
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop the index and embed everything again."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every file read, with its reader and page."),
) -> None:
    """Read a site (its repository root or any folder in it: Jekyll, Hugo, Astro or plain) into the index."""
    from rich.markup import escape

    from pipeline.corpus import MAX_CHUNK_CHARS, CorpusError
    from pipeline.ingest import ingest as run_ingest
    from pipeline.persona import PersonaError, load_persona
    from pipeline.providers.base import ProviderError

    settings = settings_from_env(corpus_dir=path, index_dir=index)
    corpus_dir = Path(settings.corpus_dir)
    if not corpus_dir.exists():
        fail(f"corpus folder {corpus_dir} does not exist")
    try:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        from pipeline.factory import make_embedder, make_store, save_index_persona

        load_persona(corpus_dir)  # a broken persona.yaml fails now, not after the embedding
        check_index_writable(settings)
        embedder = make_embedder(settings)
        store = make_store(settings)
        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=err, transient=True, disable=as_json,
        ) as bar:
            task = bar.add_task("embedding", total=None)
            report = run_ingest(
                corpus_dir, store, embedder, rebuild=rebuild,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        save_index_persona(settings, corpus_dir)
    except (CorpusError, ProviderError, PersonaError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail_os(exc, settings)
    # file names are the corpus author's: escaped, so "[/b].md" is not read as markup
    if verbose and not as_json:
        for read in report.read:
            err.print(f"[green]read[/] {escape(read.path)} ({read.reader}, {read.chunks} chunks"
                      + (f", {escape(read.url)}" if read.url else "") + ")")
    for skipped in report.skipped:
        err.print(f"[yellow]skipped[/] {escape(skipped.path)}: {escape(skipped.reason)}")
    for split in report.split:
        err.print(f"[dim]split[/] {escape(split.source)}#{escape(split.anchor)}: {split.parts} chunks "
                  f"of at most {MAX_CHUNK_CHARS} characters")
    if as_json:
        data = {k: v for k, v in report.__dict__.items() if k not in ("skipped", "split", "read")}
        data["read"] = [r.__dict__ for r in report.read]
        data["skipped"] = [s.__dict__ for s in report.skipped]
        data["split"] = [s.__dict__ for s in report.split]
        data["chunks_per_second"] = report.chunks_per_second
        print(json.dumps(data))
        return
    table = Table("files", "chunks", "new", "updated", "deleted", "unchanged", "skipped", "seconds",
                  title=f"ingested {corpus_dir} ({report.layout} layout)")
    table.add_row(*(str(x) for x in (report.files, report.chunks, report.new, report.updated, report.deleted,
                                     report.unchanged, len(report.skipped))), f"{report.seconds:.1f}")
    console.print(table)



@app.command()
def chunks(
    index: Path | None = IndexOption,
    as_json: bool = typer.Option(False, "--json", help="Print the chunks as one JSON array."),
) -> None:
    """List an index's chunks: the ids, sources and headings a dataset's reference contexts name."""
    from rich.markup import escape


    settings = settings_from_env(index_dir=index)
    found = chunks_or_fail(settings)
    rows = [{"id": c.id, "source": c.source, "heading": c.title, "doc_type": c.doc_type, "page": c.page_title}
            for c in sorted(found, key=lambda c: c.id)]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} chunks in {settings.index_dir}")
    # ids are copied into datasets: kept whole up to 60 characters; the headings wrap instead
    table.add_column("id", overflow="fold", min_width=min(60, max(len(r["id"]) for r in rows)))
    for name in ("source", "heading", "doc_type"):
        table.add_column(name)
    for row in rows:
        table.add_row(*(escape(row[k]) for k in ("id", "source", "heading", "doc_type")))
    console.print(table)
    err.print('[dim]a reference context is {"source": SOURCE, "heading": HEADING} or the id itself[/]')


persona_app = typer.Typer(help="Who the twin speaks as: persona.yaml.", no_args_is_help=True)
app.add_typer(persona_app, name="persona")


@persona_app.command("draft")
def persona_draft(
    path: Path = typer.Argument(..., help="Your site's folder (its repository root or content folder)."),
    out: Path | None = typer.Option(None, "--out", help="Where to write it (default: PATH/persona.yaml)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing persona.yaml."),
) -> None:
    """Draft persona.yaml from the site's own configuration, profile data and menus, for you to review."""
    from pipeline.corpus.owner import draft_persona, persona_yaml

    if not path.is_dir():
        fail(f"{path} is not a folder: pass your site's folder")
    target = out or path / "persona.yaml"
    if target.exists() and not force:
        fail(f"{target} exists: pass --force to overwrite it, or --out to write elsewhere")
    text = persona_yaml(draft_persona(path))
    target.write_text(text, encoding="utf-8")
    console.print(text, markup=False, highlight=False)
    err.print(f"wrote {target}: review it (name, summary, site_map), then run `workbench ingest {path}`")


glossary_app = typer.Typer(help="The site's own names in both scripts, for the optimizer.", no_args_is_help=True)
app.add_typer(glossary_app, name="glossary")


@glossary_app.command("draft")
def glossary_draft(
    index: Path | None = IndexOption,
    out: Path = typer.Option(Path("glossary.yaml"), "--out", help="Where the draft goes (YAML, for you to review)."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists (edits in it are lost)."),
) -> None:
    """Draft glossary entries from titles that name a thing in both scripts ("느린 기술 (Slow Tech)")."""
    import yaml

    from pipeline.lang import load_knowledge
    from pipeline.site_glossary import draft_glossary

    if out.exists() and not force:
        fail(f"{out} exists: pass --force to overwrite it, or --out to write elsewhere")
    chunks = chunks_or_fail(settings_from_env(index_dir=index))
    drafted = draft_glossary((t for c in chunks for t in (c.title, c.page_title)), load_knowledge())
    pairs = sum(len(o["glossary"]) for o in drafted.values())
    header = ("# Glossary entries drafted from the site's titles (workbench glossary draft): the Korean name\n"
              "# glossed by its Latin-script name, and back. Delete every pair that is not the same thing\n"
              "# (\"석사 졸업 프로젝트 (Slow Dial)\" names a project, not a translation), then offer the rest to\n"
              "#   workbench optimize --index INDEX --dataset DATASET --glossary THIS_FILE\n")
    out.write_text(header + (yaml.safe_dump(drafted, allow_unicode=True, sort_keys=True) if drafted else "{}\n"),
                   encoding="utf-8")
    err.print(f"wrote {out}: {pairs} entries from {len(chunks)} chunks; review it, then pass it to "
              "`workbench optimize --glossary`")
