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

    again, second = run_eval(tmp_path, "--split", "test")
    assert again.exit_code == 0, again.output
    assert second["score"] == summary["score"] and second["regressions"] == []  # cached, identical

    off, degraded = run_eval(tmp_path, "--split", "test", "--top-k", "0")
    assert off.exit_code == 1
    assert {"hit@5", "recall@5", "mrr"} <= set(degraded["regressions"])
    assert "regression: " in off.output and "hit@5" in off.output
    report = sorted((tmp_path / "runs").iterdir())[-1] / "report.md"
    assert "REGRESSED" in report.read_text() and "Questions that changed" in report.read_text()


def test_eval_rejects_a_bad_split(eval_env):
    result, _ = run_eval(eval_env, "--split", "holdout")
    assert result.exit_code == 2 and "--split must be" in result.output
