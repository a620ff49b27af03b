"""The regression gate: compare a run with the committed baseline, question by question.

For each metric, the per-question differences (run − baseline) over the questions
both have a value for are resampled with replacement (paired bootstrap); a metric
regresses when the whole 95% interval of the mean difference lies below zero and
the mean drop exceeds the metric's tolerance from `evals/gate.toml`.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

GATE_CONFIG = Path(__file__).with_name("gate.toml")
BASELINE_COLUMNS = ("id", "split", "category", "language", "question", "answer_text")


@dataclass
class Comparison:
    metric: str
    baseline: float
    current: float
    delta: float
    low: float
    high: float
    questions: int
    tolerance: float

    @property
    def regressed(self) -> bool:
        return self.high < 0 and -self.delta > self.tolerance

    @property
    def improved(self) -> bool:
        return self.low > 0


def load_config(path: Path = GATE_CONFIG) -> dict:
    return tomllib.loads(Path(path).read_text())


def paired_bootstrap(diffs: np.ndarray, samples: int, confidence: float, seed: int) -> tuple[float, float]:
    """Confidence interval of the mean of paired differences."""
    if len(diffs) == 0:
        return math.nan, math.nan
    if np.allclose(diffs, diffs[0]):
        return float(diffs[0]), float(diffs[0])
    rng = np.random.default_rng(seed)
    means = rng.choice(diffs, size=(samples, len(diffs)), replace=True).mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def compare(current: pd.DataFrame, baseline: pd.DataFrame, metrics: list[str], config: dict | None = None) -> list[Comparison]:
    """One comparison per metric present in both, over the questions they share."""
    config = config or load_config()
    boot = config.get("bootstrap", {})
    tolerances = config.get("tolerance", {})
    merged = current.merge(baseline, on="id", how="inner", suffixes=("", "__base"))
    out = []
    for metric in metrics:
        base_col = f"{metric}__base"
        if metric not in merged or base_col not in merged:
            continue
        pair = merged[[metric, base_col]].apply(pd.to_numeric, errors="coerce").dropna()
        if pair.empty:
            continue
        diffs = (pair[metric] - pair[base_col]).to_numpy(dtype=float)
        diffs = np.where(np.abs(diffs) < 1e-9, 0.0, diffs)  # float noise of re-computed scores is no change
        low, high = paired_bootstrap(diffs, int(boot.get("samples", 2000)), float(boot.get("confidence", 0.95)),
                                     int(boot.get("seed", 7)))
        out.append(
            Comparison(
                metric=metric,
                baseline=float(pair[base_col].mean()),
                current=float(pair[metric].mean()),
                delta=float(diffs.mean()),
                low=low,
                high=high,
                questions=len(pair),
                tolerance=float(tolerances.get(metric, tolerances.get("default", 0.02))),
            )
        )
    return out


def save_baseline(frame: pd.DataFrame, summary: dict, metrics: list[str], path: Path) -> Path:
    """The committed baseline: the summary plus every question's metric values and answer."""
    columns = [c for c in (*BASELINE_COLUMNS, *metrics) if c in frame.columns]
    rows = json.loads(frame[columns].to_json(orient="records", force_ascii=False))
    Path(path).write_text(
        json.dumps({"summary": summary, "questions": rows}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return Path(path)


def load_baseline(path: Path) -> tuple[pd.DataFrame, dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return pd.DataFrame(data["questions"]), data.get("summary", {})


def question_changes(current: pd.DataFrame, baseline: pd.DataFrame, metric: str = "score",
                     threshold: float = 1e-9) -> pd.DataFrame:
    """Questions whose `metric` moved, with both answers side by side, worst first."""
    merged = current.merge(baseline, on="id", suffixes=("", "_baseline"))
    if metric not in merged or f"{metric}_baseline" not in merged:
        return merged.iloc[0:0]
    merged["change"] = merged[metric] - merged[f"{metric}_baseline"]
    moved = merged[merged["change"].abs() > threshold]
    keep = ["id", "category", "question", "change", f"{metric}_baseline", metric, "answer_text_baseline", "answer_text"]
    return moved.sort_values("change")[[c for c in keep if c in moved.columns]]
