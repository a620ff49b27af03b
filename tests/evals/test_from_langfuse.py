"""`workbench dataset from-langfuse`: the service's traces, exported by the real tracer through
the Langfuse SDK to a local fake of Langfuse (tests/fake_langfuse.py), read back through the
SDK's read API (`api.observations.get_many`) and drafted into cases that `dataset check` passes."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import dspy
import pytest
from typer.testing import CliRunner

from evals import from_langfuse
from evals.dataset import load_dataset
from service.tracing import Tracer
from tests.fake_langfuse import FakeLangfuse
from tests.fakes import ScriptedEngine
from tests.servicekit import fake_lm, make_workbench, planner_script, service_settings
from workbench import app

SECRET = "sk-lf-test-3f1a0c"
runner = CliRunner()


@pytest.fixture
def public_key():
    return f"pk-lf-{uuid.uuid4().hex[:12]}"  # the SDK keeps one client per public key and process


@pytest.fixture
def langfuse(public_key):
    with FakeLangfuse(public_key=public_key, secret_key=SECRET) as fake:
        yield fake


@pytest.fixture
def env(tmp_path, monkeypatch, public_key, langfuse):
    for name in ("GEMINI_API_KEY", "PINECONE_API_KEY", "RAG_LM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", public_key)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)
    monkeypatch.setenv("LANGFUSE_HOST", langfuse.url)
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no stray .env
    return tmp_path


def _user(text):
    return {"role": "user", "parts": [{"text": text}]}


def _model(text):
    return {"role": "model", "parts": [{"text": text}]}


def serve(tracer, workbench, message, history=(), kind="json"):
    """What the service does per request (service/admission.py): a trace, the stage observer, the program."""
    trace = tracer.request("chat" if kind == "json" else "chat.stream", session_id=f"visitor-{uuid.uuid4().hex[:6]}",
                           message=message, history_turns=len(history), tags=(kind,))
    with trace:
        with ExitStack() as stack:
            callbacks = trace.callbacks(workbench.program)
            if callbacks:
                stack.enter_context(dspy.context(callbacks=[*dspy.settings.callbacks, *callbacks]))
            result = workbench.answer(message, list(history), observer=trace.stage)
        trace.finish(result, status=200)
    return result


@pytest.fixture
def production(tmp_path, mini_index, hash_embedder, public_key, langfuse):
    """Six requests to the service, traced: a repeat, a streamed Korean one, a follow-up, a failure."""
    settings = service_settings(tmp_path, langfuse_public_key=public_key, langfuse_secret_key=SECRET,
                                langfuse_host=langfuse.url)
    tracer = Tracer(settings, flush_interval=0.1, timeout=2)
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(ScriptedEngine(planner_script())), settings)
    serve(tracer, workbench, "Where did you study robotics?")
    serve(tracer, workbench, "Which papers did you write?")
    serve(tracer, workbench, "where did you  study robotics?")  # the same question again (the latest is kept)
    serve(tracer, workbench, "로봇공학은 어디서 공부하셨어요?", kind="stream")
    serve(tracer, workbench, "And who advised you there?",
          history=[_user("Where did you study robotics?"), _model("At Zephyr Institute.")])
    failed = tracer.request("chat", session_id="visitor-x", message="This one fails", history_turns=0, tags=("json",))
    with pytest.raises(RuntimeError), failed:
        raise RuntimeError("the LM is down")
    tracer.flush()
    langfuse.wait_for_spans(5, name="chat")
    langfuse.wait_for_spans(1, name="chat.stream")
    yield mini_index
    tracer.shutdown()


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_production_questions_become_draft_cases_that_pass_check(env, production, langfuse):
    out = env / "production.jsonl"
    index = str(production.index_dir)
    pulled = runner.invoke(app, ["dataset", "from-langfuse", "--out", str(out), "--index", index])
    assert pulled.exit_code == 0, pulled.output
    assert f"wrote 4 draft cases from 6 traces to {out}" in pulled.stdout  # soft-wrapped: paths stay whole
    assert "1 failed (no answer)" in pulled.output
    assert "1 question(s) followed earlier turns" in pulled.output  # and says the history is not traced
    # read through the SDK: the v2 observations API, roots by a structured filter, then each trace's stages
    reads = [path for method, path, _ in langfuse.requests if method == "GET" and path.startswith("/api/public/v2/")]
    assert reads and all(path.startswith("/api/public/v2/observations?") for path in reads)
    assert any("filter=" in path for path in reads) and any("traceId=" in path for path in reads)

    cases = {c["question"]: c for c in _lines(out)}
    assert set(cases) == {"where did you  study robotics?", "Which papers did you write?",
                          "로봇공학은 어디서 공부하셨어요?", "And who advised you there?"}
    first = cases["where did you  study robotics?"]
    assert first["draft"] is True and first["split"] == "train" and first["history"] == []
    assert first["reference_answer"] == "I studied robotics at Zephyr Institute, see Education."  # production's
    references = first["reference_contexts"]
    assert references and all(isinstance(r, str) or set(r) == {"source", "heading"} for r in references)
    assert first["expected_relevant"] is True and first["expected_retrieval"] is True
    assert first["expected_doc_types"] == ["education"]  # the production plan's
    assert first["langfuse"]["asked"] == 2 and first["langfuse"]["endpoint"] == "chat"
    assert "answer production gave" in first["langfuse"]["review"]
    korean = cases["로봇공학은 어디서 공부하셨어요?"]
    assert korean["language"] == "ko" and korean["langfuse"]["endpoint"] == "chat.stream"
    follow_up = cases["And who advised you there?"]
    assert follow_up["category"] == "follow-up" and follow_up["history"] == []
    assert follow_up["langfuse"]["history_turns"] == 2
    assert "which the trace does not hold" in follow_up["langfuse"]["review"]
    assert not any("visitor-" in json.dumps(c) for c in cases.values())  # session ids stay in Langfuse

    checked = runner.invoke(app, ["dataset", "check", str(out), "--index", index])
    assert checked.exit_code == 0, checked.output
    said = " ".join(checked.stdout.split())  # rich wraps long lines at the terminal's width
    assert "4 valid cases, 0 error(s)" in said and "draft case, not reviewed yet" in said
    loaded = load_dataset(out, chunk_ids=[c.id for c in production.chunks()])
    assert len(loaded.cases) == 4 and all(c.split == "train" for c in loaded.cases)
    assert loaded.split("train") == [] and loaded.drafts == 4  # evaluated once reviewed, not before

    again = runner.invoke(app, ["dataset", "from-langfuse", "--out", str(out), "--index", index])
    assert again.exit_code == 2 and "--append" in again.output  # never overwrites reviewed edits quietly
    appended = runner.invoke(app, ["dataset", "from-langfuse", "--out", str(out), "--index", index, "--append"])
    assert appended.exit_code == 0 and "wrote 0 draft cases" in appended.stdout  # the same ids: nothing new
    assert len(_lines(out)) == 4


def test_since_limit_and_paging(env, production, public_key, langfuse):
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    none = runner.invoke(app, ["dataset", "from-langfuse", "--out", str(env / "a.jsonl"), "--since", later])
    assert none.exit_code == 0 and "wrote 0 draft cases from 0 traces" in none.stdout
    recent = runner.invoke(app, ["dataset", "from-langfuse", "--out", str(env / "b.jsonl"), "--since", "1h",
                                 "--limit", "2"])
    assert recent.exit_code == 0, recent.output
    assert len(_lines(env / "b.jsonl")) == 2  # the two most recent distinct questions
    assert [c["question"] for c in _lines(env / "b.jsonl")] == ["And who advised you there?",
                                                                "로봇공학은 어디서 공부하셨어요?"]
    # pages of two roots: every trace is read, once
    settings = service_settings(env, langfuse_public_key=public_key, langfuse_secret_key=SECRET,
                                langfuse_host=langfuse.url)
    pulled = from_langfuse.pull(from_langfuse.read_client(settings), limit=50, page_size=2)
    assert pulled.traces == 6 and len(pulled.turns) == 4
    bad = runner.invoke(app, ["dataset", "from-langfuse", "--out", str(env / "c.jsonl"), "--since", "last week"])
    assert bad.exit_code == 2 and "7d, 24h" in bad.output


def test_wrong_keys_or_none_are_one_line(env, langfuse, monkeypatch):
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-wrong")
    refused = runner.invoke(app, ["dataset", "from-langfuse", "--out", str(env / "x.jsonl")])
    assert refused.exit_code == 1 and "keys were refused" in refused.output and "Traceback" not in refused.output
    assert not (env / "x.jsonl").exists()
    monkeypatch.delenv("LANGFUSE_SECRET_KEY")
    unset = runner.invoke(app, ["dataset", "from-langfuse", "--out", str(env / "x.jsonl")])
    assert unset.exit_code == 2 and "LANGFUSE_SECRET_KEY" in unset.output


def test_parse_since():
    now = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
    assert from_langfuse.parse_since("7d", now) == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert from_langfuse.parse_since("90m", now) == datetime(2025, 6, 8, 10, 30, tzinfo=UTC)
    assert from_langfuse.parse_since("2025-06-01", now) == datetime(2025, 6, 1, tzinfo=UTC)
    assert from_langfuse.parse_since("2025-06-01T09:00:00+09:00", now) == datetime(2025, 6, 1, tzinfo=UTC)
    assert from_langfuse.parse_since(None) is None
    with pytest.raises(ValueError):
        from_langfuse.parse_since("yesterday")
