"""A real browser opens a run's report.html: headless Chromium (Debian's package) renders the page
of a small synthetic run, and the verdict and the changed questions, Korean included, are in its DOM.

The test installs nothing: `make test` installs Chromium first when /usr/bin/chromium is missing
(the Makefile's `browsers` target) and sets RAG_TEST_BROWSER=required, so there a missing browser
fails instead of skipping."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from evals.gate import decide, save_baseline
from evals.report import write_run
from tests.chromium import chromium

pytestmark = pytest.mark.slow
METRICS = ["score", "hit@5", "html_safe"]
SUMMARY = {"split": "test", "dataset": "datasets/questions.jsonl", "dataset_sha256": "b" * 64}
KOREAN_QUESTION = "박사 과정 지도교수님이 누구세요?"
KOREAN_ANSWER = "제 박사 과정 지도교수님은 타나카 교수님입니다.\n• 제퍼 연구소, 로봇공학"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--hide-scrollbars")


def run_frame(n: int = 12) -> pd.DataFrame:
    frame = pd.DataFrame({
        "id": [f"q{i:02d}" for i in range(n)], "split": ["test"] * n,
        "category": ["single-fact", "korean"] * (n // 2), "language": ["en", "ko"] * (n // 2),
        "question": [f"Question {i}?" for i in range(n)], "history_sha256": ["0" * 16] * n,
        "reference_answer": ["The reference."] * n,
        "answer_text": [f"Here is what my site says:\n• fact {i}\nMore in Papers." for i in range(n)],
        "retrieved_ids": [["papers.md#a", "papers.md#b"]] * n, "reference_ids": [["papers.md#a"]] * n,
        "score": np.linspace(0.6, 1.0, n), "hit@5": [1.0] * n, "html_safe": [1.0] * n,
        "latency_ms": [10.0] * n, "lm_calls": [0] * n, "lm_tokens": [0] * n, "lm_fallbacks": [0] * n,
    })
    frame.loc[5, ["question", "answer_text"]] = [KOREAN_QUESTION, KOREAN_ANSWER]
    return frame


def summarize(frame: pd.DataFrame) -> dict:
    from evals.runner import summarize as runner_summary

    return runner_summary(frame) | SUMMARY


@pytest.fixture
def report(tmp_path):
    """A run against its baseline: q05 (Korean) lost retrieval and its answer changed, q03 only its text."""
    baseline = run_frame()
    current = run_frame()
    current.loc[3, "answer_text"] = "Here is what my site says:\n• another fact\nMore in Papers."
    current.loc[5, ["score", "hit@5"]] = [0.1, 0.0]
    current.loc[5, "answer_text"] = "사이트에 그 내용은 없습니다. <script>alert(1)</script>"
    current.at[5, "retrieved_ids"] = ["about.md#me"]
    path = save_baseline(baseline, summarize(baseline), METRICS, tmp_path / "baseline.json")
    outcome = decide(current, summarize(current), path, METRICS)
    run = tmp_path / "run"
    run.mkdir()
    write_run(run, current, summarize(current), METRICS, baseline=baseline, settings_note="split=test top_k=5",
              outcome=outcome)
    return run / "report.html", outcome


def render(browser: str, page, profile, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def test_chromium_renders_the_verdict_and_the_changed_questions(report, tmp_path):
    browser = chromium()
    page, outcome = report
    dumped = render(browser, page, tmp_path / "profile", "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert "<body" in dom
    banner = re.search(r'<p class="verdict (\w+)">(.*?)</p>', dom, re.S)
    assert banner and html.unescape(banner.group(2)) == outcome.line()  # the verdict, first thing after the title
    assert outcome.line().startswith("GATE ") and banner.group(1) in ("pass", "fail", "warn", "skipped")
    assert dom.index('class="verdict') < dom.index("Questions that changed") < dom.index("Worst questions")
    changed = dom.split("Questions that changed", 1)[1].split("Worst questions", 1)[0]
    assert "(2 of 12 paired)" in changed
    assert changed.index("<h3>q05") < changed.index("<h3>q03")  # the biggest change first
    assert KOREAN_QUESTION in changed and "사이트에 그 내용은 없습니다." in changed
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in changed and "<script>" not in dom  # text, not markup
    assert "<del>" in changed and "<ins>" in changed  # the word diff
    assert dom.count('src="data:image/png;base64,') == 2  # the plots, inline

    shot = tmp_path / "report.png"
    taken = render(browser, page, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2400")
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    keep = os.environ.get("RAG_KEEP_SCREENSHOT")  # to look at it: RAG_KEEP_SCREENSHOT=/tmp/report.png
    if keep:
        shutil.copy(shot, keep)
