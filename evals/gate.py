"""The regression gate: compare a run with the committed baseline, question by question.

Questions are paired by id AND text (the question and a hash of its history): a case
whose wording changed is a new question, not the old one with a new score. A baseline
records the sha256 of its dataset; when this run's dataset differs, only matching
questions are paired, and if fewer than half pair the baseline belongs to another
dataset — an error, never a comparison by id alone.

For each metric, the per-question differences (run − baseline) are resampled with
replacement (paired bootstrap). A metric
- REGRESSES when the whole 95% interval of the mean difference lies below zero and the
  mean drop exceeds its tolerance (`evals/gate.toml`), or when questions that had a
  value in the baseline have none now (NaN or a missing column: something stopped working);
- is a PROBABLE REGRESSION when the mean drop exceeds the tolerance but the interval
  still reaches zero (warned; fails with `--strict`).

Each metric also gets its minimum detectable effect (MDE) at this number of questions,
by the normal approximation for a paired test:
    MDE = (z_{1-α/2} + z_{power}) · sd(diffs) / sqrt(n)        (α = 1 − confidence, power 0.8)
i.e. the true mean drop the gate's test would see 80% of the time. When the two runs are
identical, sd(diffs) is 0 and says nothing, so the per-question sd σ of the baseline's
values stands in, as an unpaired bound: sd(diffs) ≤ sqrt(2)·σ for two independent runs.
When every question has the same value (a metric at its ceiling), the MDE is the smallest
share of questions that must drop to 0 for the bootstrap interval to clear zero.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd

from evals.metrics import LOWER_IS_BETTER
from evals.paired import minimum_detectable_effect, paired_bootstrap

GATE_CONFIG = resources.files("evals").joinpath("gate.toml")
BASELINE_COLUMNS = ("id", "split", "category", "language", "question", "history_sha256", "answer_text",
                    "retrieved_ids")
TEXT_COLUMNS = ("question", "history_sha256")  # what makes two rows the same question
DECIMALS = 4  # baselines are written, and runs compared, at this precision: re-runs cause no float churn
# wall-clock figures differ on every run and are not gated: a baseline without them does not churn
WALL_CLOCK = ("latency_ms", "seconds", "latency_ms_p50", "latency_ms_p95", "stage_ms_p50")
# a run's own verdict, not part of what later runs are held against
RUN_ONLY = ("gate", "regressions", "probable_regressions", "git_commit")  # not stored in a baseline
# settings a run records; when they differ from the baseline's, the gate says so before its verdict
PROVENANCE = ("dataset", "dataset_sha256", "program", "program_sha256", "lm", "judge", "embedder", "vector_store",
              "retrieval_mode", "top_k", "index_chunks", "index_sha256")


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
    missing: int = 0  # paired questions with a value in the baseline and none now
    mde: float = math.nan
    mde_method: str = ""
    lower_is_better: bool = False  # a cost (LM calls, tokens): `delta` is then the saving, a rise is the drop

    @property
    def regressed(self) -> bool:
        return self.missing > 0 or (self.high < 0 and -self.delta > self.tolerance)

    @property
    def probable(self) -> bool:
        """A drop beyond the tolerance that this many questions cannot yet tell from noise."""
        return not self.regressed and -self.delta > self.tolerance

    @property
    def improved(self) -> bool:
        return not self.regressed and self.low > 0

    @property
    def verdict(self) -> str:
        if self.regressed:
            return "REGRESSED"
        if self.probable:
            return "probable regression"
        return "improved" if self.improved else "same"

    @property
    def why(self) -> str:
        if self.missing:
            return f"no value now for {self.missing} question(s) that had one"
        if self.regressed or self.probable:
            ci = f"95% CI [{self.low:+.3f}, {self.high:+.3f}]"
            return f"Δ {self.delta:+.3f} beyond tolerance {self.tolerance:.3f}, {ci}" + (
                "" if self.regressed else " reaches 0")
        return ""


@dataclass
class Pairing:
    """Which current questions have a counterpart in the baseline."""

    ids: list[str]
    not_in_baseline: list[str] = field(default_factory=list)
    text_changed: list[str] = field(default_factory=list)
    total: int = 0  # questions in this run

    @property
    def skipped(self) -> int:
        return len(self.not_in_baseline) + len(self.text_changed)

    def why(self) -> str:
        parts = []
        if self.not_in_baseline:
            parts.append(f"{len(self.not_in_baseline)} not in the baseline")
        if self.text_changed:
            parts.append(f"{len(self.text_changed)} with changed text: {', '.join(self.text_changed[:5])}"
                         + ("…" if len(self.text_changed) > 5 else ""))
        return "; ".join(parts)


def load_config(path: Path | Traversable = GATE_CONFIG) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _numeric(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(float).round(DECIMALS)


def pair_questions(current: pd.DataFrame, baseline: pd.DataFrame) -> Pairing:
    """Pair by id and by every text column both frames have (a changed question is not paired)."""
    ids = list(current["id"])
    base = baseline.drop_duplicates("id").set_index("id")
    cur = current.drop_duplicates("id").set_index("id")
    texts = [c for c in TEXT_COLUMNS if c in cur.columns and c in base.columns]
    paired, absent, changed = [], [], []
    for qid in ids:
        if qid not in base.index:
            absent.append(qid)
        elif any(_differs(cur.at[qid, c], base.at[qid, c]) for c in texts):
            changed.append(qid)
        else:
            paired.append(qid)
    return Pairing(paired, absent, changed, len(ids))


def _differs(a, b) -> bool:
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return False  # a baseline of the older format has no history hash: the question text decides
    return str(a) != str(b)


def compare(current: pd.DataFrame, baseline: pd.DataFrame, metrics: Sequence[str], config: dict | None = None,
            pairing: Pairing | None = None) -> list[Comparison]:
    """One comparison per metric the baseline has, over the paired questions."""
    config = config or load_config()
    boot = config.get("bootstrap", {})
    confidence = float(boot.get("confidence", 0.95))
    power = float(config.get("mde", {}).get("power", 0.8))
    tolerances = config.get("tolerance", {})
    pairing = pairing or pair_questions(current, baseline)
    cur = current.drop_duplicates("id").set_index("id").reindex(pairing.ids)
    base = baseline.drop_duplicates("id").set_index("id").reindex(pairing.ids)
    out = []
    for metric in metrics:
        if metric not in base.columns:
            continue
        before = _numeric(base[metric])
        now = _numeric(cur[metric]) if metric in cur.columns else pd.Series(math.nan, index=before.index)
        had = before.notna()
        if not had.any():
            continue
        both = had & now.notna()
        lower = metric in LOWER_IS_BETTER
        # a cost counts as a drop when it rises: the same test, the sign turned
        diffs = ((before[both] - now[both]) if lower else (now[both] - before[both])).to_numpy(dtype=float)
        diffs = np.where(np.abs(diffs) < 1e-9, 0.0, diffs)  # float noise of re-computed scores is no change
        low, high = paired_bootstrap(diffs, int(boot.get("samples", 2000)), confidence, int(boot.get("seed", 7)))
        mde, method = minimum_detectable_effect(diffs, before[had].to_numpy(dtype=float), confidence, power)
        out.append(
            Comparison(
                metric=metric,
                baseline=float(before[had].mean()),
                current=float(now[both].mean()) if both.any() else math.nan,
                delta=float(diffs.mean()) if len(diffs) else math.nan,
                low=low,
                high=high,
                questions=int(both.sum()),
                tolerance=float(tolerances.get(metric, tolerances.get("default", 0.02))),
                missing=int((had & now.isna()).sum()),
                mde=mde,
                mde_method=method,
                lower_is_better=lower,
            )
        )
    return out


@dataclass
class GateOutcome:
    """What the gate decided, and the one line that says so."""

    status: str  # PASS | FAIL | SKIPPED
    baseline: str = ""
    comparisons: list[Comparison] = field(default_factory=list)
    pairing: Pairing | None = None
    reason: str = ""  # why it was skipped
    headline: str = "no baseline for this split/dataset"  # what a skip says first
    notes: list[str] = field(default_factory=list)
    strict: bool = False
    error: str = ""  # the baseline cannot be held against this run at all (a FAIL)

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.regressed]

    @property
    def probable(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.probable]

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"

    def line(self) -> str:
        if self.status == "SKIPPED":
            return f"GATE SKIPPED — {self.headline} ({self.reason})"
        if self.error:
            return f"GATE FAIL against {self.baseline} — not comparable: {self.error}"
        pairing = self.pairing or Pairing([])
        names = lambda cs: ", ".join(c.metric for c in cs)  # noqa: E731
        regressed = self.regressions
        text = (f"GATE {self.status} against {self.baseline} — {len(pairing.ids)} paired, {len(regressed)} regressed"
                + (f" ({names(regressed)})" if regressed else "")
                + f", {pairing.skipped} skipped" + (f" ({pairing.why()})" if pairing.skipped else ""))
        if self.probable:
            consequence = "fails under --strict" if self.strict else "warning; --strict fails on it"
            text += f"; {len(self.probable)} probable regression(s): {names(self.probable)} ({consequence})"
        return text


def skipped(reason: str, headline: str | None = None) -> GateOutcome:
    outcome = GateOutcome("SKIPPED", reason=reason)
    if headline:
        outcome.headline = headline
    return outcome


def provenance_notes(summary: dict, base_summary: dict) -> list[str]:
    """The recorded settings that differ between the baseline and this run."""
    notes = []
    for key in PROVENANCE:
        if key in base_summary and key in summary and base_summary[key] != summary[key]:
            before, now = base_summary[key], summary[key]
            if isinstance(before, str) and len(before) == 64:  # hashes: the start is enough to tell
                before, now = before[:12], str(now)[:12]
            notes.append(f"{key}: baseline {before} → this run {now}")
    return notes


def decide(current: pd.DataFrame, summary: dict, baseline_path: Path, metrics: Sequence[str], *,
           strict: bool = False, foreign_is_error: bool = True, config: dict | None = None) -> GateOutcome:
    """Hold this run against the baseline file; SKIPPED when there is none for this split/dataset.

    `foreign_is_error`: a baseline of another dataset is an error, a FAIL with `error` set (it
    was asked for, or the dataset is the one the baseline should match); otherwise the gate is
    skipped, saying so."""
    shown = str(baseline_path)
    if not Path(baseline_path).exists():
        return skipped(f"{shown} does not exist; write one with --write-baseline")
    base_frame, base_summary = load_baseline(baseline_path)
    if base_summary.get("split") != summary.get("split"):
        return skipped(f"{shown} is the {base_summary.get('split')!r} split's baseline and this run is "
                       f"{summary.get('split')!r}; write one with --write-baseline --baseline PATH")
    pairing = pair_questions(current, base_frame)
    notes = provenance_notes(summary, base_summary)
    base_sha, sha = base_summary.get("dataset_sha256"), summary.get("dataset_sha256")
    if base_sha != sha:
        if base_sha is None:
            notes.append("the baseline records no dataset hash (older format): paired by id and question text")
        if len(pairing.ids) * 2 < pairing.total:
            made_on = (f"{base_summary['dataset']} (sha256 {base_sha[:12]})" if base_sha else
                       "a dataset it does not record (older format)")
            message = (f"the baseline belongs to another dataset: it was made on {made_on}, this run "
                       f"is {summary.get('dataset')} (sha256 {str(sha)[:12]}); only {len(pairing.ids)} of "
                       f"{pairing.total} questions match by id and text. Gate against this dataset's own baseline "
                       f"(--baseline PATH; write it with --write-baseline --baseline PATH)")
            if foreign_is_error:
                return GateOutcome("FAIL", shown, pairing=pairing, notes=notes, strict=strict, error=message)
            return skipped(f"{shown}: {message}")
    comparisons = compare(current, base_frame, metrics, config, pairing)
    failed = any(c.regressed for c in comparisons) or (strict and any(c.probable for c in comparisons))
    return GateOutcome("FAIL" if failed else "PASS", shown, comparisons, pairing, notes=notes, strict=strict)


def _rounded(value):
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items() if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def save_baseline(frame: pd.DataFrame, summary: dict, metrics: Sequence[str], path: Path) -> Path:
    """The committed baseline: the summary plus every question's text fingerprint, metric values and
    answer — rounded, keys sorted, questions by id, wall-clock times left out, so that writing it
    again from an unchanged program changes no byte."""
    columns = [c for c in (*BASELINE_COLUMNS, *metrics) if c in frame.columns and c not in WALL_CLOCK]
    # rounded as `compare` rounds a run (numpy's rounding of the exact value): rounding the JSON's
    # 10-digit text instead would round 0.78125000000000011 down where the run's value rounds up
    table = frame[columns].copy()
    for column in columns:
        if pd.api.types.is_float_dtype(table[column]):
            table[column] = _numeric(table[column])
    rows = json.loads(table.to_json(orient="records", force_ascii=False, double_precision=15))
    rows = sorted(rows, key=lambda r: str(r["id"]))
    data = _rounded({"summary": {k: v for k, v in summary.items() if k not in RUN_ONLY}, "questions": rows})
    Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Path(path)


def load_baseline(path: Path) -> tuple[pd.DataFrame, dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return pd.DataFrame(data["questions"]), data.get("summary", {})


def changed_questions(current: pd.DataFrame, baseline: pd.DataFrame, metrics: Sequence[str],
                      pairing: Pairing | None = None) -> list[dict]:
    """Paired questions where some metric or the answer text changed, worst score change first.

    Each: id, the current and baseline rows, and `moved` = {metric: (baseline, now)}."""
    pairing = pairing or pair_questions(current, baseline)
    cur = current.drop_duplicates("id").set_index("id")
    base = baseline.drop_duplicates("id").set_index("id")
    out = []
    for qid in pairing.ids:
        now, before = cur.loc[qid], base.loc[qid]
        moved = {}
        for metric in metrics:
            if metric not in base.columns:
                continue
            b = _numeric(pd.Series([before[metric]])).iloc[0]
            n = _numeric(pd.Series([now.get(metric, math.nan)])).iloc[0]
            if math.isnan(b) and math.isnan(n):
                continue
            if math.isnan(b) != math.isnan(n) or abs(n - b) > 1e-9:
                moved[metric] = (b, n)
        answer_changed = str(now.get("answer_text", "")) != str(before.get("answer_text", ""))
        if moved or answer_changed:
            out.append({"id": qid, "row": now, "baseline": before, "moved": moved, "answer_changed": answer_changed})

    def score_change(item: dict) -> float:
        b, n = item["moved"].get("score", (0.0, 0.0))
        return -math.inf if math.isnan(n) else (n - b if not math.isnan(b) else 0.0)

    return sorted(out, key=score_change)


def question_changes(current: pd.DataFrame, baseline: pd.DataFrame, metric: str = "score",
                     threshold: float = 1e-9) -> pd.DataFrame:
    """Questions whose `metric` moved, with both answers side by side, worst first."""
    paired = current[current["id"].isin(pair_questions(current, baseline).ids)]
    merged = paired.merge(baseline, on="id", suffixes=("", "_baseline"))
    if metric not in merged or f"{metric}_baseline" not in merged:
        return merged.iloc[0:0]
    merged["change"] = _numeric(merged[metric]) - _numeric(merged[f"{metric}_baseline"])
    moved = merged[merged["change"].abs() > threshold]
    keep = ["id", "category", "question", "change", f"{metric}_baseline", metric, "answer_text_baseline", "answer_text"]
    return moved.sort_values("change")[[c for c in keep if c in moved.columns]]
