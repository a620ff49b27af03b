"""eval: a split of a dataset, gated against its baseline; figures."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.common import (
    BASELINE,
    CONVERSATION_BASELINE,
    DEMO_DATASET,
    IndexOption,
    app,
    ensure_index,
    err,
    fail,
    settings_from_env,
)
from cli.eval_view import print_chat_differences, print_eval, print_verdict


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
    settings = settings_from_env(index_dir=index, lm_cache=False if no_cache else None, eval_concurrency=concurrency,
                                 top_k=top_k)
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
                bench, cases, concurrency=settings.eval_concurrency, judge_lm=settings.judge_lm,
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

    print_eval(summary, metrics, outcome.comparisons, run_dir, baseline_path if write_baseline else None)
    if conversation:
        print_chat_differences(result.frame)
    if as_json:
        print(json.dumps({k: summary.get(k) for k in ("score", "metrics", "split", "questions", "regressions",
                                                      "probable_regressions", "gate", "judge_failures", "cost",
                                                      "seconds", "retrieval_mode", "top_k", "dataset_sha256")},
                         default=str))
    print_verdict(outcome, enforced=gate)
    if gate and outcome.failed:
        raise typer.Exit(1)



@app.command()
def figures(
    write: bool = typer.Option(False, "--write", "--readme", help="Rewrite every generated block of the docs (the "
                               "README's table, docs/evaluation.md's acceptance table) between its markers."),
) -> None:
    """Every dataset's gated figures, single and as one chat, from the committed baselines (datasets/**)."""
    from evals.figures import BLOCKS
    from evals.figures import table as figures_table
    from evals.figures import write as write_block

    if not write:
        print(figures_table(Path("datasets")))
        return
    for block in BLOCKS:
        try:
            changed = write_block(block, Path("."))
        except (OSError, ValueError) as exc:
            fail(str(exc))
        err.print(f"{block.page} ({block.name}): " + ("updated" if changed else "already current"))
