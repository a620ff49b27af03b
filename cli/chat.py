"""Asking: chat, accept."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cli.common import (
    IndexOption,
    app,
    cell,
    console,
    err,
    fail,
    settings_from_env,
)


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
    settings = settings_from_env(index_dir=index, retrieval_mode=mode, top_k=top_k)
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
            result = bench.answer(asked, history)
        except (LMUnavailableError, ProviderError) as exc:
            fail(str(exc))
        _print_result(result, as_json)
        if question is not None:
            return
        history += [
            {"role": "user", "parts": [{"text": asked}]},
            {"role": "model", "parts": [{"text": result.html}]},  # as the site's widget sends it back
        ]



@app.command()
def accept(
    index: Path | None = IndexOption,
    dataset: Path = typer.Option(Path("datasets/questions.jsonl"), "--dataset", help="Question dataset (JSONL)."),
    mode: str | None = typer.Option(None, "--mode", help="Retrieval: hybrid or dense."),
    program: str | None = typer.Option(None, "--program", help="Saved program JSON, or 'none'."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    write: Path | None = typer.Option(None, "--write", help="Keep the figures in this JSON file, under the "
                                      "retrieval mode (make accept: datasets/acceptance.json, which the docs show)."),
) -> None:
    """The pipeline's acceptance figures on the demo questions, per language."""
    if mode is not None and mode not in ("hybrid", "dense"):
        fail("--mode must be 'hybrid' or 'dense'", 2)
    settings = settings_from_env(index_dir=index, retrieval_mode=mode)
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
    if write is not None:
        kept = json.loads(write.read_text(encoding="utf-8")) if write.exists() else {}
        kept[bench.retrieval_mode] = {"cases": len(cases), "figures": acceptance.record(summary)}
        write.write_text(json.dumps(kept, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        err.print(f"wrote {write} ({bench.retrieval_mode}): run `make docs` to show it")
    if as_json:
        print(json.dumps({"mode": bench.retrieval_mode, "summary": json.loads(summary.to_json(orient="index")),
                          "latency_p50_ms": p50}))
        return
    table = Table("figure", *summary.index, "goal", title=f"acceptance ({bench.retrieval_mode} retrieval)")
    for figure in summary.columns:
        cells = [cell(v) for v in summary[figure].tolist()]
        goal = acceptance.THRESHOLDS.get(figure)
        table.add_row(figure, *cells, f"≥ {goal:.2f}" if goal is not None else "")
    console.print(table)
    console.print("p50 latency per stage (ms): " + ", ".join(f"{k} {v:.1f}" for k, v in p50.items()))
