"""The run report: verdict first, only the questions worth reading, one self-contained page."""

import re

import numpy as np
import pandas as pd

from evals.gate import decide, save_baseline
from evals.report import word_diff, write_run

SUMMARY = {"split": "test", "dataset": "datasets/questions.jsonl", "dataset_sha256": "a" * 64}
METRICS = ["score", "hit@5", "html_safe"]


def run_frame(n: int = 12) -> pd.DataFrame:
    return pd.DataFrame({
        "id": [f"q{i:02d}" for i in range(n)], "split": ["test"] * n,
        "category": ["single-fact", "greeting"] * (n // 2), "language": ["en"] * n,
        "question": [f"question {i}?" for i in range(n)], "history_sha256": ["0" * 16] * n,
        "reference_answer": ["The reference."] * n,
        "answer_text": [f"Here is what my site says:\n• fact {i}\nMore in Papers." for i in range(n)],
        "retrieved_ids": [["papers.md#a", "papers.md#b"]] * n, "reference_ids": [["papers.md#a"]] * n,
        "score": np.linspace(0.5, 1.0, n), "hit@5": [1.0] * n, "html_safe": [1.0] * n,
        "latency_ms": [10.0] * n, "lm_calls": [0] * n, "lm_tokens": [0] * n, "lm_fallbacks": [0] * n,
    })


def summarize(frame: pd.DataFrame) -> dict:
    from evals.runner import summarize as runner_summary

    return runner_summary(frame) | SUMMARY


def test_the_report_leads_with_the_verdict_and_shows_only_what_changed(tmp_path):
    baseline = run_frame()
    current = run_frame()
    current.loc[3, "answer_text"] = "Here is what my site says:\n• another fact\nMore in Papers."  # text only
    current.loc[5, ["score", "hit@5"]] = [0.1, 0.0]
    current.at[5, "retrieved_ids"] = ["about.md#me"]
    path = save_baseline(baseline, summarize(baseline), METRICS, tmp_path / "baseline.json")
    outcome = decide(current, summarize(current), path, METRICS)
    (tmp_path / "run").mkdir()
    write_run(tmp_path / "run", current, summarize(current), METRICS, baseline=baseline,
              settings_note="split=test top_k=5", outcome=outcome)
    md = (tmp_path / "run" / "report.md").read_text()
    assert md.splitlines()[2] == f"**{outcome.line()}**"
    assert md.index("GATE ") < md.index("![score_by_category.png]") < md.index("## Against the baseline")
    changed = md.split("## Questions that changed")[1].split("## Worst questions")[0]
    assert "(2 of 12 paired)" in changed
    assert re.findall(r"^### (q\d+)", changed, re.M) == ["q05", "q03"]  # worst score change first, then text only
    assert "- hit@5: 1.000 → 0.000 (-1.000)" in changed
    assert "• {+another +}fact[- 3-]" in changed  # the word diff
    assert "Retrieved in the baseline: `papers.md#a` ✓, `papers.md#b`" in changed and "`about.md#me`" in changed
    assert "fact[- 3-]\nMore in Papers." in changed and "\\n" not in changed  # real line breaks
    assert "MDE" in md.split("## Against the baseline")[1]
    assert "## Per category" in md and "95% CI" in md.split("## Per category")[1]


def test_worst_questions_are_shown_without_a_baseline_and_the_html_is_self_contained(tmp_path):
    frame = run_frame()
    frame.loc[0, "html_safe"] = 0.0
    (tmp_path / "run").mkdir()
    write_run(tmp_path / "run", frame, summarize(frame), METRICS)
    md = (tmp_path / "run" / "report.md").read_text()
    assert "GATE SKIPPED" in md.splitlines()[2] and "## Questions that changed" not in md
    worst = md.split("## Worst questions")[1]
    assert worst.index("### q00") < worst.index("### q01") and "Fails: html_safe" in worst
    page = (tmp_path / "run" / "report.html").read_text()
    sources = re.findall(r"<img src=\"([^\"]+)\"", page)
    assert len(sources) == 2 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<link" not in page and "<script" not in page
    assert "fact 0\nMore in Papers." in page and "white-space:pre-wrap" in page


def test_a_word_diff_marks_what_was_removed_and_added():
    assert word_diff("I studied at Zephyr.", "I studied at Lumen.") == [
        ("equal", "I studied at "), ("delete", "Zephyr."), ("insert", "Lumen.")]
    assert word_diff(None, "same") == [("equal", "same")]


def test_a_rewritten_answer_is_shown_whole_not_interleaved():
    runs = word_diff("Here is what my site says:\n• the podcast episode", "Sorry, I could not find that.")
    assert runs == [("delete", "Here is what my site says:\n• the podcast episode"), ("equal", "\n"),
                    ("insert", "Sorry, I could not find that.")]
