"""Write a run's folder: per-question results, summary.json, report.md/.html and plots.

The report is for deciding whether a change lands: the gate's verdict first, then the
plots (with 95% intervals), the gate table with each metric's minimum detectable effect,
and only the questions worth reading — those that changed against the baseline (a metric
or the answer text) and the worst ones — each with its answer as the visitor saw it,
a word diff against the baseline's answer, and the retrieved next to the reference
sources. report.html is one self-contained file (plots embedded as data URIs); both
pages are rendered from the same context by the jinja2 templates beside this module.
"""

from __future__ import annotations

import base64
import difflib
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from evals.gate import Comparison, GateOutcome, changed_questions, load_config, pair_questions
from evals.paired import paired_bootstrap

LIST_COLUMNS = ("retrieved_ids", "retrieved_texts", "reference_ids", "plan_doc_types")
# per-question pass/fail checks: a 0 in any of them is a failure worth reading
CHECKS = ("hit@5", "relevance_correct", "retrieval_correct", "language_match", "refusal_correct", "says_unknown",
          "length_ok", "html_safe")
CATEGORY_METRICS = ("hit@5", "mrr", "relevance_correct", "semantic_similarity", "refusal_correct", "says_unknown")
WORST = 8  # questions in "worst questions"
MAX_CHANGED = 40  # changed questions shown in full; the rest are in results.csv
REWRITTEN = 0.5  # answers sharing less than this (difflib's ratio of words) are shown whole, one then the other
MDE_NOTE = ("MDE: the true mean drop the gate's test would see 80% of the time with this many questions, "
            "(z₀.₉₇₅ + z₀.₈) · sd(per-question differences) / √n; when the runs are identical the metric's own "
            "per-question sd stands in (an unpaired bound, ×√2), and for a metric at its ceiling it is the share of "
            "questions that must drop to 0. A drop smaller than the MDE usually stays a 'probable regression'.")


def new_run_dir(root: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = Path(root) / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{stamp}-{suffix}"
    path.mkdir(parents=True)
    return path


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value) -> str:
    if _missing(value):
        return "–"
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return str(value)


def _markdown_table(frame: pd.DataFrame) -> str:
    cells = frame.apply(lambda column: column.map(lambda v: _fmt(v).replace("|", "\\|").replace("\n", " ")))
    return cells.to_markdown(index=False, disable_numparse=True)


def _html_table(frame: pd.DataFrame) -> str:
    return frame.map(_fmt).to_html(index=False, escape=True, border=0)


def _interval(values, config: dict) -> tuple[float, float]:
    """95% bootstrap interval of a mean (the gate's resampling settings)."""
    data = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    boot = config.get("bootstrap", {})
    return paired_bootstrap(data, int(boot.get("samples", 2000)), float(boot.get("confidence", 0.95)),
                            int(boot.get("seed", 7)))


def _ci(low: float, high: float) -> str:
    return "–" if _missing(low) else f"[{low:.3f}, {high:.3f}]"


def comparison_frame(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "metric": c.metric, "baseline": c.baseline, "current": c.current,
                "delta": "–" if _missing(c.delta) else f"{c.delta:+.3f}",
                "95% CI": "–" if _missing(c.low) else f"[{c.low:+.3f}, {c.high:+.3f}]",
                "MDE": c.mde, "MDE from": c.mde_method, "tolerance": c.tolerance, "n": c.questions,
                "verdict": c.verdict.upper() if c.regressed else c.verdict,
                "why": c.why,
            }
            for c in comparisons
        ]
    )


def _gate_html(frame: pd.DataFrame) -> str:
    """The gate table with its failing rows coloured (pandas' Styler renders through jinja2)."""
    colours = {"REGRESSED": "background-color:#f9dcd9", "probable regression": "background-color:#fdf0d5"}
    styled = frame.map(_fmt).style.hide(axis="index").apply(
        lambda row: [colours.get(row["verdict"], "")] * len(row), axis=1)
    return styled.to_html()


def metrics_frame(frame: pd.DataFrame, summary: dict, metrics: Sequence[str], config: dict) -> pd.DataFrame:
    rows = []
    for m in metrics:
        if m in frame.columns and summary["metrics"].get(m) is not None:
            rows.append({"metric": m, "mean": summary["metrics"][m], "95% CI": _ci(*_interval(frame[m], config)),
                         "questions": summary["counts"].get(m)})
    return pd.DataFrame(rows)


def category_frame(frame: pd.DataFrame, metrics: Sequence[str], config: dict) -> pd.DataFrame:
    """Per category: the score with its interval (few questions → wide), and the main metrics' means."""
    rows = []
    for category, group in frame.groupby("category"):
        low, high = _interval(group["score"], config)
        row = {"category": category, "questions": len(group), "score": pd.to_numeric(group["score"]).mean(),
               "95% CI": _ci(low, high)}
        for m in metrics:
            if m in group.columns:
                values = pd.to_numeric(group[m], errors="coerce").dropna()
                row[m] = float(values.mean()) if len(values) else None
        rows.append(row)
    return pd.DataFrame(rows)


def word_diff(before: str | None, after: str) -> list[tuple[str, str]]:
    """The answer as (op, text) runs against the baseline's: equal, delete, insert."""
    if before is None or before == after:
        return [("equal", after)]
    old, new = re.findall(r"\s+|\S+", before), re.findall(r"\s+|\S+", after)
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    if matcher.ratio() < REWRITTEN:  # interleaved word runs of two different answers read as noise
        return [("delete", before), ("equal", "\n"), ("insert", after)]
    runs = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            runs.append(("equal", "".join(old[i1:i2])))
            continue
        if i2 > i1:
            runs.append(("delete", "".join(old[i1:i2])))
        if j2 > j1:
            runs.append(("insert", "".join(new[j1:j2])))
    return runs


def _ids(value) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [str(v) for v in value]


def _checks_failed(row) -> list[str]:
    return [m for m in CHECKS if m in row and not _missing(row[m]) and float(row[m]) == 0.0]


def _question(row, before=None, moved: dict | None = None) -> dict:
    """What the templates show of one question."""
    references = _ids(row.get("reference_ids"))
    answer_before = None if before is None else str(before.get("answer_text", ""))
    return {
        "id": row.get("id"), "category": row.get("category", ""),
        "language": row.get("language", ""), "question": str(row.get("question", "")),
        "score": _fmt(row.get("score")), "score_before": None if before is None else _fmt(before.get("score")),
        "moved": [{"metric": m, "before": _fmt(b), "now": _fmt(n),
                   "delta": "–" if _missing(b) or _missing(n) else f"{n - b:+.3f}"} for m, (b, n) in (moved or {}).items()],
        "failed": _checks_failed(row),
        "answer": str(row.get("answer_text", "")),
        "diff": word_diff(answer_before, str(row.get("answer_text", ""))),
        "answer_changed": answer_before is not None and answer_before != str(row.get("answer_text", "")),
        "reference_answer": str(row.get("reference_answer", "")),
        "references": references,
        "retrieved": [{"id": cid, "ref": cid in references} for cid in _ids(row.get("retrieved_ids"))],
        "retrieved_before": None if before is None or "retrieved_ids" not in before else
        [{"id": cid, "ref": cid in references} for cid in _ids(before.get("retrieved_ids"))],
    }


def _worst(frame: pd.DataFrame) -> pd.DataFrame:
    scored = frame.assign(_score=pd.to_numeric(frame["score"], errors="coerce"))
    return scored.sort_values("_score", na_position="last").head(WORST)


def _plots(run_dir: Path, frame: pd.DataFrame, summary: dict, comparisons: Sequence[Comparison],
           baseline: pd.DataFrame | None, config: dict) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def bars(data: pd.DataFrame, categories: list[str]) -> tuple[list[float], list[list[float]]]:
        means: list[float] = []
        errors: list[list[float]] = [[], []]
        for c in categories:
            values = pd.to_numeric(data.loc[data["category"] == c, "score"], errors="coerce").dropna()
            mean = float(values.mean()) if len(values) else 0.0
            low, high = _interval(values, config) if len(values) else (mean, mean)
            means.append(mean)
            errors[0].append(max(mean - low, 0.0))
            errors[1].append(max(high - mean, 0.0))
        return means, errors

    paths = []
    categories = sorted(frame["category"].unique())
    x = np.arange(len(categories))
    fig, ax = plt.subplots(figsize=(9, 4))
    current, current_err = bars(frame, categories)
    if baseline is not None and "score" in baseline and "category" in baseline:
        base, base_err = bars(baseline, categories)
        ax.bar(x - 0.2, base, 0.4, yerr=base_err, capsize=3, label="baseline", color="#bbbbbb")
        ax.bar(x + 0.2, current, 0.4, yerr=current_err, capsize=3, label="this run", color="#3b6ea8")
        ax.legend(loc="lower right")
    else:
        ax.bar(x, current, 0.6, yerr=current_err, capsize=3, color="#3b6ea8")
    ax.set_xticks(x, categories, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (95% CI)")
    ax.set_title("Headline score per category")
    fig.tight_layout()
    paths.append(run_dir / "score_by_category.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    shown = [c for c in comparisons if not _missing(c.delta)]
    fig, ax = plt.subplots(figsize=(9, 0.32 * max(len(shown or summary["metrics"]), 6) + 1))
    if shown:
        y = np.arange(len(shown))
        colours = ["#c0392b" if c.regressed else "#e67e22" if c.probable else "#3b6ea8" for c in shown]
        for i, (c, colour) in enumerate(zip(shown, colours)):  # one colour per bar: errorbar takes one
            ax.errorbar(c.delta, i, xerr=[[max(c.delta - c.low, 0)], [max(c.high - c.delta, 0)]], fmt="o",
                        color=colour, capsize=3)
        ax.scatter([-c.tolerance for c in shown], y, marker="|", color="#888888", s=120, label="− tolerance")
        ax.axvline(0, color="#444444", lw=0.8)
        ax.set_yticks(y, [c.metric for c in shown])
        ax.set_xlabel("this run − baseline (95% CI); red: regressed, orange: probable regression")
        ax.legend(loc="best")
        ax.set_title("Change per metric against the baseline")
    else:
        names = [m for m, v in summary["metrics"].items() if v is not None and m in frame.columns]
        means = [summary["metrics"][m] for m in names]
        intervals = [_interval(frame[m], config) for m in names]
        y = np.arange(len(names))
        ax.errorbar(means, y, xerr=[[max(m - lo, 0) for m, (lo, _) in zip(means, intervals)],
                                    [max(hi - m, 0) for m, (_, hi) in zip(means, intervals)]],
                    fmt="o", color="#3b6ea8", capsize=3)
        ax.set_yticks(y, names)
        ax.set_xlim(-0.02, 1.02)
        ax.set_title("Metric means (95% CI)")
    ax.invert_yaxis()
    fig.tight_layout()
    paths.append(run_dir / "metrics.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    return paths


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _environment():
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("evals", "."), autoescape=select_autoescape(["html.j2"]),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["quote"] = lambda text: "\n".join("> " + line for line in str(text).splitlines() or [""])
    env.filters["md_diff"] = lambda runs: "".join(
        text if op == "equal" else f"[-{text}-]" if op == "delete" else f"{{+{text}+}}" for op, text in runs)
    return env


def _verdict_class(outcome: GateOutcome | None) -> str:
    if outcome is None or outcome.status == "SKIPPED":
        return "skipped"
    if outcome.status == "FAIL":
        return "fail"
    return "warn" if outcome.probable else "pass"


def write_run(
    run_dir: Path,
    frame: pd.DataFrame,
    summary: dict,
    metrics: Sequence[str],
    comparisons: Sequence[Comparison] = (),
    baseline: pd.DataFrame | None = None,
    baseline_summary: dict | None = None,
    settings_note: str = "",
    outcome: GateOutcome | None = None,
) -> Path:
    """Everything a person needs to judge a run, in one folder."""
    run_dir = Path(run_dir)
    config = load_config()
    if outcome is not None:
        comparisons = outcome.comparisons
    flat = frame.copy()
    for column in LIST_COLUMNS:
        if column in flat:
            flat[column] = flat[column].apply(lambda v: json.dumps(list(v), ensure_ascii=False))
    flat.to_csv(run_dir / "results.csv", index=False)
    flat.to_parquet(run_dir / "results.parquet", index=False)
    (run_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str),
                                          encoding="utf-8")
    plots = _plots(run_dir, frame, summary, comparisons, baseline, config)

    changed, paired = None, 0
    if baseline is not None:
        pairing = outcome.pairing if outcome is not None and outcome.pairing is not None else \
            pair_questions(frame, baseline)
        paired = len(pairing.ids)
        changed = [_question(item["row"].to_dict() | {"id": item["id"]}, item["baseline"].to_dict(), item["moved"])
                   for item in changed_questions(frame, baseline, metrics, pairing)]
    worst_rows = _worst(frame)
    worst = [_question(row.to_dict()) for _, row in worst_rows.iterrows()]
    failing = frame[~frame["id"].isin(worst_rows["id"])]
    failing = pd.DataFrame([{"id": r["id"], "category": r["category"], "score": r.get("score"),
                             "fails": ", ".join(_checks_failed(r)), "question": r["question"]}
                            for _, r in failing.iterrows() if _checks_failed(r)])
    score_low, score_high = _interval(frame["score"], config) if "score" in frame else (math.nan, math.nan)
    gate_table = comparison_frame(comparisons) if comparisons else None
    tables = {
        "gate": gate_table,
        "categories": category_frame(frame, [m for m in CATEGORY_METRICS if m in metrics], config),
        "metrics": metrics_frame(frame, summary, metrics, config),
        "failing": failing if len(failing) else None,
    }
    failures = {k: v for k, v in summary.get("judge_failures", {}).items() if v}
    context = {
        "name": run_dir.name,
        "verdict": outcome.line() if outcome is not None else "GATE SKIPPED — no gate for this run",
        "verdict_class": _verdict_class(outcome),
        "notes": outcome.notes if outcome is not None else [],
        "settings_note": settings_note,
        "score": _fmt(summary.get("score")), "score_ci": _ci(score_low, score_high),
        "questions": summary["questions"],
        "judge_failures": ", ".join(f"{k} {v}" for k, v in failures.items()),
        "mde_note": MDE_NOTE,
        "changed": None if changed is None else changed[:MAX_CHANGED],
        "changed_total": 0 if changed is None else len(changed), "paired": paired,
        "worst": worst, "worst_count": WORST,
        "cost": json.dumps(summary.get("cost", {}), indent=2),
    }
    env = _environment()
    md_tables = {k: None if v is None else _markdown_table(v) for k, v in tables.items()}
    md_plots = [{"name": p.name, "src": p.name} for p in plots]
    (run_dir / "report.md").write_text(
        env.get_template("report.md.j2").render(**context, tables=md_tables, plots=md_plots), encoding="utf-8")
    html_tables = {k: None if v is None else _html_table(v) for k, v in tables.items()}
    if gate_table is not None:
        html_tables["gate"] = _gate_html(gate_table)
    html_plots = [{"name": p.name, "src": _data_uri(p)} for p in plots]
    (run_dir / "report.html").write_text(
        env.get_template("report.html.j2").render(**context, tables=html_tables, plots=html_plots), encoding="utf-8")
    return run_dir
