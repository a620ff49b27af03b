"""dataset: write and check a question dataset for your own content."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import (
    IndexOption,
    app,
    console,
    err,
    fail,
    index_chunks,
    settings_from_env,
)

dataset_app = typer.Typer(help="Write and check a question dataset for your own content.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


def _print_findings(findings) -> None:
    """Each finding once; one repeated on many lines (every draft case, say) is one entry."""
    from collections import defaultdict

    from rich.markup import escape

    grouped = defaultdict(list)
    for f in findings:
        grouped[(f.level, f.message, f.fix)].append(f.line)
    # errors first, each group where it first occurs
    for (level, message, fix), lines in sorted(grouped.items(), key=lambda g: (g[0][0] != "error", g[1][0])):
        shown = ", ".join(str(n) for n in lines[:8]) + (f", … ({len(lines)} lines)" if len(lines) > 8 else "")
        where = "" if lines == [0] else (f"line {shown}: " if len(lines) == 1 else f"lines {shown}: ")
        colour = "red" if level == "error" else "yellow"
        console.print(f"{escape(where)}[{colour}]{level}:[/] {escape(message)}", soft_wrap=True, highlight=False)
        if fix:
            console.print(f"    [dim]→ {escape(fix)}[/]", soft_wrap=True, highlight=False)


@dataset_app.command("check")
def dataset_check(
    file: Path = typer.Argument(..., help="The dataset (JSONL) to check."),
    index: Path | None = IndexOption,
) -> None:
    """Validate a dataset file: each problem with its line number and what to do."""
    from evals.dataset_check import check_file
    from pipeline.providers.base import ProviderError

    settings = settings_from_env(index_dir=index)
    try:
        found = index_chunks(settings)
    except ProviderError as exc:
        fail(str(exc))
    if not found:
        err.print(f"[yellow]no index at {settings.index_dir}:[/] reference contexts are not checked "
                  "(pass --index, or run `workbench ingest`)", highlight=False)
    findings, valid = check_file(file, found or None)
    _print_findings(findings)
    errors = sum(f.level == "error" for f in findings)
    console.print(f"{file}: {valid} valid cases, {errors} error(s), {len(findings) - errors} warning(s)"
                  + (f" against {len(found)} chunks of {settings.index_dir}" if found else ""), highlight=False)
    if errors:
        raise typer.Exit(1)


@dataset_app.command("draft")
def dataset_draft(
    source: Path = typer.Argument(..., help="A corpus folder (markdown/JSON) or an index folder."),
    out: Path = typer.Option(Path("datasets/draft.jsonl"), "--out", help="Where the draft cases go (JSONL)."),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists (edits in it are lost)."),
) -> None:
    """Draft cases offline from the chunks' headings: a start to edit, every case marked "draft": true."""
    from evals.draft import draft_cases, write_jsonl
    from pipeline.corpus import CorpusError, load_corpus
    from pipeline.providers.base import ProviderError

    if out.exists() and not force:
        fail(f"{out} exists: it may hold your edits; pass --force to overwrite it, or another --out", 2)
    try:
        from pipeline.providers.lancedb_store import is_index_folder

        if is_index_folder(source):
            found = index_chunks(settings_from_env(index_dir=source))
        else:
            found = load_corpus(source).chunks
    except (CorpusError, ProviderError) as exc:
        fail(str(exc))
    if not found:
        fail(f"no chunks in {source}: pass a corpus folder or an index made by `workbench ingest`")
    cases = draft_cases(found)
    write_jsonl(cases, out)
    console.print(f"wrote {len(cases)} draft cases from {len(found)} chunks to {out}", highlight=False)
    err.print(f"[dim]next: edit them (delete \"draft\": true from each one you have read), then\n"
              f"  workbench dataset check {out} --index INDEX\n"
              f"  workbench eval --dataset {out} --index INDEX --baseline BASELINE --write-baseline[/]",
              highlight=False)


@dataset_app.command("schema")
def dataset_schema(
    out: Path | None = typer.Option(None, "--out", help="Write it here (the repo keeps "
                                       "datasets/questions.schema.json) instead of printing it."),
) -> None:
    """The JSON Schema of one dataset line, generated from the loader's model."""
    from evals.dataset import case_json_schema

    text = json.dumps(case_json_schema(), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        print(text, end="")
        return
    out.write_text(text, encoding="utf-8")
    err.print(f"written: {out}")


@dataset_app.command("from-langfuse")
def dataset_from_langfuse(
    out: Path = typer.Option(Path("datasets/production.jsonl"), "--out", help="Where the draft cases go (JSONL)."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many distinct questions, "
                              "the most recent first."),
    since: str | None = typer.Option(None, "--since", help="Only requests since then: 7d, 24h, 30m, or a date "
                                        "(2025-06-01) or ISO date-time."),
    index: Path | None = IndexOption,
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists (edits in it are lost)."),
    append: bool = typer.Option(False, "--append", help="Add to --out the questions it does not have yet."),
) -> None:
    """Draft cases from the service's recent Langfuse traces: visitors' real questions, to review."""
    from evals import from_langfuse
    from evals.draft import write_jsonl
    from pipeline.providers.base import ProviderError

    if force and append:
        fail("--force and --append exclude each other", 2)
    if out.exists() and not (force or append):
        fail(f"{out} exists: it may hold your edits; pass --append to add new questions to it, --force to "
             "overwrite it, or another --out", 2)
    try:
        since_at = from_langfuse.parse_since(since)
    except ValueError as exc:
        fail(str(exc), 2)
    settings = settings_from_env(index_dir=index)
    if not settings.tracing_enabled:
        fail("set LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY (and LANGFUSE_HOST) of the project the service "
             "traces to", 2)
    try:
        chunks_now = index_chunks(settings)
    except ProviderError as exc:
        fail(str(exc))
    try:
        with err.status(f"reading the service's traces from {settings.langfuse_host}…"):
            pulled = from_langfuse.pull(from_langfuse.read_client(settings), limit=limit, since=since_at)
    except from_langfuse.TraceReadError as exc:
        fail(str(exc))
    cases = [from_langfuse.draft_case(turn, [c.id for c in chunks_now] if chunks_now else None)
             for turn in pulled.turns]
    already = from_langfuse.existing_ids(out) if append and out.exists() else set()
    new = [c for c in cases if c["id"] not in already]
    if append and out.exists():
        with out.open("a", encoding="utf-8") as handle:
            handle.writelines(json.dumps(c, ensure_ascii=False) + "\n" for c in new)
    else:
        write_jsonl(new, out)
    skipped = "; ".join(f"{n} {why}" for why, n in sorted(pulled.skipped.items()))
    console.print(f"wrote {len(new)} draft cases from {pulled.traces} traces to {out}"
                  + (f" ({len(cases) - len(new)} already in it)" if already else ""), highlight=False, soft_wrap=True)
    if skipped:
        err.print(f"[dim]skipped: {skipped}[/]", highlight=False)
    followed = sum(1 for c in new if c["langfuse"]["history_turns"])
    if followed:
        err.print(f"[yellow]{followed} question(s) followed earlier turns:[/] traces record how many turns, not "
                  "their text, so their history is []; each one's \"langfuse\" note says how the service read it",
                  highlight=False)
    if not chunks_now:
        err.print(f"[yellow]no index at {settings.index_dir}:[/] reference contexts are kept as traced "
                  "(pass --index to drop passages the index no longer has)", highlight=False)
    err.print(f"[dim]next: review each case (the reference answer is production's own), delete \"draft\": true, then\n"
              f"  workbench dataset check {out} --index INDEX[/]", highlight=False)
