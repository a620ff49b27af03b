"""`workbench eval`: runs, reports, caching and the regression gate, end to end."""

import json

import pytest
from typer.testing import CliRunner

from workbench import app

pytestmark = [pytest.mark.model, pytest.mark.slow]
runner = CliRunner()


@pytest.fixture
def eval_env(monkeypatch, local_settings, tmp_path):
    for name in ("GEMINI_API_KEY", "PINECONE_API_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "RAG_LM",
                 "RAG_JUDGE_LM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAG_INDEX_DIR", str(local_settings.index_dir))
    monkeypatch.setenv("RAG_CACHE_DIR", str(local_settings.cache_dir))  # shared with the acceptance run
    monkeypatch.setenv("RAG_PROGRAM", "none")
    return tmp_path


def run_eval(tmp_path, *args):
    from tests.conftest import ROOT

    result = runner.invoke(app, ["eval", "--dataset", str(ROOT / "datasets/questions.jsonl"),
                                 "--runs", str(tmp_path / "runs"), "--baseline", str(tmp_path / "baseline.json"),
                                 "--json", *args])
    summary = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else None
    return result, summary


def verdict(result) -> str:
    """The run's last line on stderr (stdout's last line is the JSON summary)."""
    return result.stderr.strip().splitlines()[-1]


def test_eval_writes_a_run_and_gates_against_its_baseline(eval_env):
    tmp_path = eval_env
    first, summary = run_eval(tmp_path, "--split", "test", "--write-baseline")
    assert first.exit_code == 0, first.output
    assert 0 < summary["score"] <= 1 and summary["split"] == "test" and summary["questions"] >= 20
    assert {"hit@5", "mrr", "ndcg@5", "relevance_correct", "rouge_l", "semantic_similarity"} <= set(summary["metrics"])
    (run,) = list((tmp_path / "runs").iterdir())
    for name in ("results.csv", "results.parquet", "summary.json", "report.md", "report.html",
                 "score_by_category.png"):
        assert (run / name).exists(), name
    assert (tmp_path / "baseline.json").exists()
    assert verdict(first).startswith("GATE SKIPPED — this run is the new baseline")
    recorded = json.loads((tmp_path / "baseline.json").read_text())["summary"]
    assert recorded["retrieval_mode"] == "hybrid" and recorded["top_k"] == 5 and len(recorded["dataset_sha256"]) == 64

    again, second = run_eval(tmp_path, "--split", "test")
    assert again.exit_code == 0, again.output
    assert second["score"] == summary["score"] and second["regressions"] == []  # cached, identical
    assert verdict(again) == (f"GATE PASS against {tmp_path / 'baseline.json'} — {summary['questions']} paired, "
                              "0 regressed, 0 skipped")
    assert "MDE" in again.output

    off, degraded = run_eval(tmp_path, "--split", "test", "--top-k", "0")
    assert off.exit_code == 1
    # id_context_precision has no value without passages: counted as a regression, not left out
    assert {"hit@5", "recall@5", "mrr", "id_context_precision"} <= set(degraded["regressions"])
    assert "regression: " in off.output and "hit@5" in off.output
    assert verdict(off).startswith("GATE FAIL against ") and "top_k=0 (off)" in off.output
    run_dir = sorted((tmp_path / "runs").iterdir())[-1]
    report = (run_dir / "report.md").read_text()
    assert report.splitlines()[2] == f"**{verdict(off)}**"  # the verdict comes first
    assert "REGRESSED" in report and "Questions that changed" in report and "top_k=0" in report
    assert "<img src=\"data:image/png;base64," in (run_dir / "report.html").read_text()

    dev, _ = run_eval(tmp_path, "--split", "dev")
    assert dev.exit_code == 0 and verdict(dev).startswith("GATE SKIPPED — no baseline for this split/dataset (")


def test_write_baseline_for_another_dataset_needs_its_own_path(eval_env, tmp_path):
    other = tmp_path / "mine.jsonl"
    other.write_text("")
    result = runner.invoke(app, ["eval", "--dataset", str(other), "--write-baseline"])
    assert result.exit_code == 2 and "needs --baseline PATH" in result.output


def test_eval_rejects_a_bad_split(eval_env):
    result, _ = run_eval(eval_env, "--split", "holdout")
    assert result.exit_code == 2 and "--split must be" in result.output
