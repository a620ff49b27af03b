"""The pipeline's acceptance figures on the demo questions, per language.

Runs the whole program (rewrite → plan → retrieve → generate) on every case and
reports retrieval hit@1/hit@5, refusal of off-topic and injection questions,
greetings answered without retrieval, Korean answers containing Korean, and LM
output that could not be parsed. `workbench accept` prints it as a table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evals.dataset import Case
from pipeline.text import contains_korean

THRESHOLDS = {
    "hit@5": 0.95,
    "hit@1": 0.85,
    "declined (off-topic, injection)": 0.90,
    "greeting without retrieval": 0.90,
    "korean answer has korean": 1.0,
}


@dataclass
class CaseResult:
    id: str
    category: str
    language: str
    hit1: bool | None
    hit5: bool | None
    declined: bool
    retrieved: bool
    has_korean: bool
    lm_calls: int
    lm_fallbacks: int
    latency_ms: dict[str, float] = field(default_factory=dict)


def run_case(answer: Callable, case: Case) -> CaseResult:
    """Answer one case and score it against its expectations."""
    result = answer(case.question, case.history_dicts())
    ranked = [s.id for s in result.sources]
    refs = set(case.context_ids)
    scored = bool(refs) and case.expected_retrieval
    return CaseResult(
        id=case.id,
        category=case.category,
        language=case.language,
        hit1=(bool(ranked) and ranked[0] in refs) if scored else None,
        hit5=bool(refs & set(ranked[:5])) if scored else None,
        declined=not result.plan.relevant,
        retrieved=bool(result.sources),
        has_korean=contains_korean(result.text),
        lm_calls=result.trace.lm_calls,
        lm_fallbacks=result.trace.lm_fallbacks,
        latency_ms=dict(result.trace.timings_ms),
    )


def run(answer: Callable, cases: Iterable[Case], progress: Callable[[], None] | None = None) -> pd.DataFrame:
    rows = []
    for case in cases:
        row = run_case(answer, case)
        rows.append({**row.__dict__, **{f"ms_{k}": v for k, v in row.latency_ms.items()}})
        if progress:
            progress()
    return pd.DataFrame(rows).drop(columns=["latency_ms"])


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per language (and 'all'): each acceptance figure with its count."""
    out = []
    for language, group in [*frame.groupby("language"), ("all", frame)]:
        scored = group[group["hit1"].notna()]
        refusals = group[group["category"].isin(["off-topic", "prompt-injection"])]
        greetings = group[group["category"] == "greeting"]
        korean = group[group["language"] == "ko"]
        out.append(
            {
                "language": language,
                "hit@1": scored["hit1"].astype(bool).mean() if len(scored) else float("nan"),
                "hit@5": scored["hit5"].astype(bool).mean() if len(scored) else float("nan"),
                "scored questions": len(scored),
                "declined (off-topic, injection)": refusals["declined"].mean() if len(refusals) else float("nan"),
                "greeting without retrieval": (~greetings["retrieved"]).mean() if len(greetings) else float("nan"),
                "korean answer has korean": korean["has_korean"].mean() if len(korean) else float("nan"),
                "lm calls": int(group["lm_calls"].sum()),
                "lm parse failures": int(group["lm_fallbacks"].sum()),
            }
        )
    return pd.DataFrame(out).set_index("language")


def by_category(frame: pd.DataFrame) -> pd.DataFrame:
    scored = frame[frame["hit1"].notna()].copy()
    scored[["hit1", "hit5"]] = scored[["hit1", "hit5"]].astype(bool)
    return scored.groupby(["language", "category"])[["hit1", "hit5"]].mean().round(3)


def latency_p50(frame: pd.DataFrame) -> dict[str, float]:
    """Median milliseconds per stage; generation also over the answers the LM helped write."""
    p50 = {c.removeprefix("ms_"): float(frame[c].median()) for c in frame.columns if c.startswith("ms_")}
    with_lm = frame[frame["lm_calls"] > 0]
    if len(with_lm) and "ms_generate" in frame:
        p50["generate (LM called)"] = float(with_lm["ms_generate"].median())
    total = frame[[c for c in frame.columns if c.startswith("ms_")]].sum(axis=1)
    p50["total"] = float(total.median())
    return p50


ACCEPTANCE_FILE = "acceptance.json"  # in datasets/: the figures `make accept` measured, per retrieval mode
ROUND = 3


def record(summary: pd.DataFrame) -> dict:
    """The summary as the committed file keeps it: figure → language → value (3 decimals)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for figure in summary.columns:
        for language, value in summary[figure].items():
            number: float | int | None
            if value != value:
                number = None
            elif isinstance(value, (int, np.integer)):  # a count
                number = int(value)
            else:
                number = round(float(value), ROUND)
            out.setdefault(figure, {})[str(language)] = number
    return out

