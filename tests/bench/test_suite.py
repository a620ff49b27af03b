"""`workbench bench`: the sections together, the headline figures and the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench import evaluation, startup
from bench.suite import GOALS, headline, verdicts
from workbench import app

runner = CliRunner()


def test_headline_takes_each_sections_figures_and_none_for_the_rest():
    summary = headline({
        "retrieval": {"retrieval_recall_vs_exact": 0.97, "retrieval_p50_ratio_vs_exact": 1.5},
        "ingestion": {"ingest_ratio_vs_embedder": 0.9, "reingest_ratio": 0.02},
    })
    assert summary["retrieval_recall_vs_exact"] == 0.97 and summary["reingest_ratio"] == 0.02
    assert summary["service_overhead_ratio"] is None and summary["cold_start_s"] is None
    assert verdicts(summary) == {"retrieval_recall_vs_exact": False, "retrieval_p50_ratio_vs_exact": True,
                                 "ingest_ratio_vs_embedder": True, "reingest_ratio": True}
    assert set(GOALS) <= set(summary)


@pytest.mark.parametrize("args, message", [
    (["--only", "retrieval,warp"], "--only takes a comma-separated subset"),
    (["--only", ","], "--only takes a comma-separated subset"),
    (["--sizes", "1000,ten"], "comma-separated whole numbers"),
    (["--sizes", "10"], "--sizes must be between"),
    (["--concurrency", "0"], "--concurrency levels must be between"),
])
def test_bad_options_are_refused_with_a_message(args, message):
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == 2 and message in result.output


@pytest.mark.model
def test_a_quick_run_of_some_sections_prints_the_figures_as_json(tmp_path, mini_corpus, monkeypatch):
    monkeypatch.setenv("RAG_CORPUS_DIR", str(mini_corpus))
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["bench", "--quick", "--only", "retrieval,ingestion", "--sizes", "500",
                                 "--index", str(tmp_path / "index"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["quick"] is True and summary["sections"] == ["retrieval", "ingestion"]
    assert summary["retrieval_recall_vs_exact"] == 1.0
    assert summary["ingest_ratio_vs_embedder"] > 0 and summary["service_overhead_ratio"] is None
    assert set(summary["goals_met"]) == {"retrieval_recall_vs_exact", "retrieval_p50_ratio_vs_exact",
                                         "ingest_ratio_vs_embedder", "reingest_ratio"}
    written = json.loads((tmp_path / summary["file"]).read_text())
    assert [s["chunks"] for s in written["retrieval"]["sizes"]] == [500]
    assert written["ingestion"]["chunks"] == 4 and written["ingestion"]["files"] == 2 and written["ingestion"]["reingest_reembedded"] == 0
    assert "retrieval: the embedded store vs exact NumPy search" in result.output


@pytest.mark.slow
@pytest.mark.model
def test_evaluation_runs_cold_then_warm_with_the_same_numbers(demo_index):
    figures = evaluation.run(demo_index, limit=2, concurrency=(1, 2), base_concurrency=2)
    assert figures["questions"] == 2 and figures["lm"] == "local"
    assert figures["same_score_warm"] is True
    assert figures["warm"]["questions_per_s"] > figures["cold"]["questions_per_s"]  # served from the cache
    assert [r["concurrency"] for r in figures["cold_by_concurrency"]] == [1, 2]


@pytest.mark.slow
@pytest.mark.model
def test_startup_times_workbench_serve_to_its_first_answer(demo_index):
    figures = startup.run(demo_index, questions=1)
    assert figures["answered"] == figures["asked"] == 2
    assert figures["cold_start_s"] > 0.5  # it loads models and answers with a real LM
    assert figures["rss_mb"] >= figures["rss_after_first_mb"] > 50
