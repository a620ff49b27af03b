"""Write a run's folder: per-question results, summary.json, report.md/.html and plots."""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import pandas as pd

from evals.gate import Comparison, question_changes

LIST_COLUMNS = ("retrieved_ids", "retrieved_texts", "reference_ids", "plan_doc_types")


def new_run_dir(root: Path) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = Path(root) / stamp
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / f"{stamp}-{suffix}"
    path.mkdir(parents=True)
    return path


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(_fmt(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def comparison_frame(comparisons: Sequence[Comparison]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "metric": c.metric, "baseline": c.baseline, "current": c.current, "delta": c.delta,
                "95% CI low": c.low, "95% CI high": c.high, "n": c.questions, "tolerance": c.tolerance,
                "verdict": "REGRESSED" if c.regressed else ("improved" if c.improved else "same"),
            }
            for c in comparisons
        ]
    )


def category_frame(summary: dict, metrics: Sequence[str]) -> pd.DataFrame:
    rows = []
    for category, values in sorted(summary["by_category"].items()):
        rows.append({"category": category, "questions": values["questions"],
                     **{m: values.get(m) for m in metrics}})
    return pd.DataFrame(rows)


def _plots(run_dir: Path, summary: dict, baseline_summary: dict | None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    categories = sorted(summary["by_category"])
    current = [summary["by_category"][c].get("score") or 0.0 for c in categories]
    fig, ax = plt.subplots(figsize=(9, 4))
    x = range(len(categories))
    if baseline_summary and baseline_summary.get("by_category"):
        base = [(baseline_summary["by_category"].get(c) or {}).get("score") or 0.0 for c in categories]
        ax.bar([i - 0.2 for i in x], base, width=0.4, label="baseline", color="#bbbbbb")
        ax.bar([i + 0.2 for i in x], current, width=0.4, label="this run", color="#3b6ea8")
        ax.legend()
    else:
        ax.bar(list(x), current, color="#3b6ea8")
    ax.set_xticks(list(x))
    ax.set_xticklabels(categories, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.set_title("Headline score per category")
    fig.tight_layout()
    fig.savefig(run_dir / "score_by_category.png", dpi=110)
    plt.close(fig)
    names.append("score_by_category.png")

    metrics = {k: v for k, v in summary["metrics"].items() if v is not None and k != "score"}
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.barh(list(metrics), list(metrics.values()), color="#3b6ea8")
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title("Metric means (0–1)")
    fig.tight_layout()
    fig.savefig(run_dir / "metrics.png", dpi=110)
    plt.close(fig)
    names.append("metrics.png")
    return names


def write_run(
    run_dir: Path,
    frame: pd.DataFrame,
    summary: dict,
    metrics: Sequence[str],
    comparisons: Sequence[Comparison] = (),
    baseline: pd.DataFrame | None = None,
    baseline_summary: dict | None = None,
    settings_note: str = "",
) -> Path:
    """Everything a person needs to judge a run, in one folder."""
    run_dir = Path(run_dir)
    flat = frame.copy()
    for column in LIST_COLUMNS:
        if column in flat:
            flat[column] = flat[column].apply(lambda v: json.dumps(list(v), ensure_ascii=False))
    flat.to_csv(run_dir / "results.csv", index=False)
    flat.to_parquet(run_dir / "results.parquet", index=False)
    (run_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    plots = _plots(run_dir, summary, baseline_summary)

    shown = [m for m in ("score", "hit@5", "recall@5", "mrr", "relevance_correct", "semantic_similarity",
                         "rouge_l", "language_match", "refusal_correct", "says_unknown") if m in metrics]
    categories = category_frame(summary, shown)
    overall = pd.DataFrame(
        [{"metric": m, "mean": summary["metrics"].get(m), "questions": summary["counts"].get(m)} for m in metrics
         if m in summary["metrics"]]
    )
    changes = question_changes(frame, baseline) if baseline is not None else pd.DataFrame()
    failures = {k: v for k, v in summary.get("judge_failures", {}).items()}

    md = [f"# Evaluation run {run_dir.name}", "", settings_note, "",
          f"Headline score: **{_fmt(summary['score'])}** over {summary['questions']} questions.", ""]
    if failures:
        md += ["Judge scores missing because the judge failed: "
               + ", ".join(f"{k} {v}" for k, v in failures.items()), ""]
    md += ["## Metrics", "", _markdown_table(overall), "", "## Per category", "", _markdown_table(categories), ""]
    if comparisons:
        md += ["## Against the baseline", "", _markdown_table(comparison_frame(comparisons)), ""]
    if not changes.empty:
        md += ["## Questions that changed (worst first)", "", _markdown_table(changes), ""]
    md += ["## Cost", "", "```", json.dumps(summary["cost"], indent=2), "```", ""]
    md += [f"![{name}]({name})" for name in plots]
    (run_dir / "report.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    def table(df: pd.DataFrame) -> str:
        return df.to_html(index=False, escape=True, na_rep="–", float_format=lambda v: f"{v:.3f}")

    page = [
        "<!doctype html><meta charset='utf-8'><title>Evaluation run</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:14px}</style>",
        f"<h1>Evaluation run {html.escape(run_dir.name)}</h1><p>{html.escape(settings_note)}</p>",
        f"<p>Headline score: <b>{_fmt(summary['score'])}</b> over {summary['questions']} questions.</p>",
        "<h2>Metrics</h2>", table(overall), "<h2>Per category</h2>", table(categories),
    ]
    if comparisons:
        page += ["<h2>Against the baseline</h2>", table(comparison_frame(comparisons))]
    if not changes.empty:
        page += ["<h2>Questions that changed</h2>", table(changes)]
    page += [f"<img src='{name}' alt='{name}'>" for name in plots]
    (run_dir / "report.html").write_text("\n".join(page), encoding="utf-8")
    return run_dir
