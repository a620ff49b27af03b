"""Langfuse tracing through the real SDK, exporting to a local receiver (tests/fake_langfuse.py)."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from dspy import lm15

import service
from service.tracing import NULL_TRACE, Tracer
from tests.fake_langfuse import FakeLangfuse
from tests.fakes import ScriptedEngine
from tests.servicekit import (
    asgi_client,
    chat_body,
    fake_lm,
    make_workbench,
    parse_sse,
    planner_script,
    service_settings,
)

pytestmark = pytest.mark.anyio

STAGES = ["rewrite", "embed", "plan", "retrieve", "generate"]
SECRET = "sk-lf-test-9d2b7c41e0"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def public_key():
    return f"pk-lf-{uuid.uuid4().hex[:12]}"  # the SDK keeps one client per public key and process


@pytest.fixture
def langfuse(public_key):
    with FakeLangfuse(public_key=public_key, secret_key=SECRET) as fake:
        yield fake


def traced(tmp_path, public_key, host, secret=SECRET, **overrides):
    settings = service_settings(tmp_path, langfuse_public_key=public_key, langfuse_secret_key=secret,
                                langfuse_host=host, **overrides)
    return settings, Tracer(settings, flush_interval=0.1, timeout=2)


@pytest.fixture
def engine():
    return ScriptedEngine(planner_script())


async def ask(workbench, settings, tracer, *bodies, path="/api/chat"):
    app = service.create_app(workbench, settings=settings, tracer=tracer)
    async with asgi_client(app) as client:
        return [await client.post(path, json=body) for body in bodies]


def test_without_keys_tracing_is_off_and_free(tmp_path):
    tracer = Tracer(service_settings(tmp_path))
    assert tracer.enabled is False and tracer._client is None
    assert tracer.request("chat", session_id="s", message="hi", history_turns=0) is NULL_TRACE


async def test_one_trace_per_request_with_a_span_per_stage(tmp_path, mini_index, hash_embedder, engine,
                                                          public_key, langfuse):
    settings, tracer = traced(tmp_path, public_key, langfuse.url)
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(engine), settings)
    responses = await ask(workbench, settings, tracer, chat_body(session_id="visitor-a"),
                          chat_body("Which papers did you write?", session_id="visitor-b"))
    assert [r.status_code for r in responses] == [200, 200]
    tracer.flush()
    roots = langfuse.wait_for_spans(2, name="chat")
    assert len(roots) == 2 and len({r.trace_id for r in roots}) == 2  # one trace per request

    for root, session in zip(sorted(roots, key=lambda r: r.start_ns), ["visitor-a", "visitor-b"]):
        spans = langfuse.spans(trace_id=root.trace_id)
        assert all(s.attributes.get("session.id") == session for s in spans)
        assert root.parent_span_id == "" and root.json_attribute("langfuse.observation.input")["message"]
        assert "service" in root.attributes["langfuse.trace.tags"]
        output = root.json_attribute("langfuse.observation.output")
        assert output["response"] and output["sources"]

        stages = {s.name: s for s in spans if s.parent_span_id == root.span_id}
        assert list(sorted(stages, key=lambda n: stages[n].start_ns)) == STAGES
        timings = root.json_attribute("langfuse.observation.metadata.timings_ms")
        for name, span in stages.items():
            assert root.start_ns <= span.start_ns <= span.end_ns <= root.end_ns
            assert span.duration_ms <= timings[name] + 1.0  # the span lies inside the measured stage
            assert span.json_attribute("langfuse.observation.metadata.latency_ms") == timings[name]
        assert stages["embed"].attributes["langfuse.observation.type"] == "embedding"
        assert stages["retrieve"].attributes["langfuse.observation.type"] == "retriever"
        retrieved = stages["retrieve"].json_attribute("langfuse.observation.output")["sources"]
        assert [s["id"] for s in retrieved] == [s["id"] for s in output["sources"]]
        # the span shows what was really searched (it used to log the un-expanded query instead)
        searched = stages["retrieve"].json_attribute("langfuse.observation.input")["search_query"]
        assert searched == stages["retrieve"].json_attribute("langfuse.observation.output")["search_query"]
        assert searched.startswith(root.json_attribute("langfuse.observation.input")["message"])
        assert stages["plan"].json_attribute("langfuse.observation.output")["lm_used"] is True

        # LM calls: generations under the stage that made them, with their token counts
        generations = [s for s in spans if s.attributes.get("langfuse.observation.type") == "generation"]
        assert {g.name for g in generations} == {"plan.predict", "generate.predict"}
        for generation in generations:
            stage = next(s for s in stages.values() if s.span_id == generation.parent_span_id)
            usage = generation.json_attribute("langfuse.observation.usage_details")
            assert usage["total"] == usage["input"] + usage["output"] > 0
            assert stage.json_attribute("langfuse.observation.metadata.lm_tokens") == usage["total"]
            assert generation.attributes["langfuse.observation.model.name"] == "fake/model"
        assert stages["retrieve"].json_attribute("langfuse.observation.metadata.lm_tokens") == 0
        assert root.json_attribute("langfuse.observation.metadata.lm_tokens") == sum(
            g.json_attribute("langfuse.observation.usage_details")["total"] for g in generations)
    tracer.shutdown()


async def test_streamed_requests_are_traced_too(tmp_path, mini_index, hash_embedder, engine, public_key, langfuse):
    settings, tracer = traced(tmp_path, public_key, langfuse.url)
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(engine), settings)
    [response] = await ask(workbench, settings, tracer, chat_body(session_id="streamer"), path="/api/chat/stream")
    assert parse_sse(response.text)[-1][0] == "final"
    tracer.flush()
    [root] = langfuse.wait_for_spans(1, name="chat.stream")
    assert "stream" in root.attributes["langfuse.trace.tags"] and root.attributes["session.id"] == "streamer"
    assert {s.name for s in langfuse.spans(trace_id=root.trace_id)} >= set(STAGES)
    tracer.shutdown()


async def test_an_lm_outage_is_recorded_as_an_error_and_answered_without_it(tmp_path, mini_index, hash_embedder,
                                                                           public_key, langfuse):
    settings, tracer = traced(tmp_path, public_key, langfuse.url)
    engine = ScriptedEngine(fail_with=lm15.ServerError("upstream 503"))
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(engine), settings)
    [response] = await ask(workbench, settings, tracer, chat_body())
    assert response.status_code == 200 and response.json()["degraded"] == "lm"
    tracer.flush()
    langfuse.wait_for_spans(1, name="chat")
    failed, answered = langfuse.spans(name="plan")  # the attempt with the LM, then the one without
    assert failed.attributes["langfuse.observation.level"] == "ERROR"
    assert failed.attributes["langfuse.observation.status_message"] == "LMUnavailableError"
    assert answered.attributes.get("langfuse.observation.level") != "ERROR"
    assert langfuse.spans(name="retrieve")  # the site was searched for the degraded answer
    tracer.shutdown()


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("fault", ["500", "429", "slow", "refused", "wrong secret"])
async def test_tracing_failures_never_affect_the_answer(tmp_path, mini_index, hash_embedder, engine, public_key,
                                                       langfuse, fault, caplog):
    workbench = make_workbench(mini_index, hash_embedder, fake_lm(engine), service_settings(tmp_path))
    [untraced] = await ask(workbench, workbench.settings, None, chat_body(session_id="same"))

    host = closed_port_url() if fault == "refused" else langfuse.url
    settings, tracer = traced(tmp_path, public_key, host, secret="sk-lf-wrong-6f0e" if fault == "wrong secret" else SECRET)
    if fault in ("500", "429"):
        langfuse.inject(status=int(fault), times=None, retry_after=0.1)
    elif fault == "slow":
        langfuse.inject(delay=5.0, times=None)
    with caplog.at_level(logging.INFO):
        [response] = await ask(workbench, settings, tracer, chat_body(session_id="same"))
        assert response.status_code == 200 and response.json() == untraced.json()
        if fault != "refused":  # the exporter did try, in the background
            deadline = time.monotonic() + 10
            while not langfuse.export_calls() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert langfuse.export_calls()
    assert langfuse.spans() == []  # nothing was accepted
    assert SECRET not in caplog.text and "sk-lf-wrong" not in caplog.text
    assert "Where did you study" not in caplog.text
    tracer.shutdown()
