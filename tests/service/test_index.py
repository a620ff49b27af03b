"""The index while serving: a live `workbench ingest` is picked up, a deleted index is an honest
degraded answer and a /ready that says so — against a real LanceDB index served by uvicorn on
127.0.0.1, re-ingested with the hash embedder while the server runs."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest

import service
from pipeline.ingest import ingest
from pipeline.providers.lancedb_store import LanceDBStore
from tests.fakes import ScriptedEngine
from tests.servicekit import LOCAL, StreamingEngine, chat_body, fake_lm, live_server, make_workbench, service_settings

AWARDS = """\
---
title: "Awards"
doc_type: awards
---

## Golden Gear Award

**Year**: 2024

Given for the Krakatoa swarm, a flock of underwater gliders.
"""
QUESTION = "Did the Krakatoa swarm win the Golden Gear Award?"


@pytest.fixture
def served(mini_corpus, hash_embedder, tmp_path):
    """A factory over the index folder (what `workbench serve` gives the service), its builds counted."""
    index_dir = tmp_path / "index"
    ingest(mini_corpus, LanceDBStore(index_dir), hash_embedder)
    settings = service_settings(tmp_path, index_check_s=0.05)
    builds: list[float] = []

    def build(engine=None):
        builds.append(time.monotonic())
        # the local path: the answer quotes the passages found, so new content shows in it
        return make_workbench(LanceDBStore(index_dir), hash_embedder, fake_lm(engine or ScriptedEngine()), settings,
                              capabilities=LOCAL)

    return index_dir, settings, build, builds


def wait_for(predicate, timeout: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_a_live_ingest_into_the_served_index_is_picked_up(served, mini_corpus, hash_embedder):
    index_dir, settings, build, builds = served
    with live_server(service.create_app(build, settings=settings)) as url, httpx.Client(base_url=url, timeout=30) as c:
        ready = wait_for(lambda: (r := c.get("/ready")).status_code == 200 and r.json(), what="ready")
        before = ready["index"]["version"]
        assert before and ready["index"]["chunks"] == 4 and ready["program"] == "test"
        first = c.post("/api/chat", json=chat_body(QUESTION)).json()
        assert "awards.md" not in {s["source"] for s in first["sources"]}

        (mini_corpus / "awards.md").write_text(AWARDS, encoding="utf-8")
        ingest(mini_corpus, LanceDBStore(index_dir), hash_embedder)  # while it serves

        after = wait_for(lambda: (r := c.get("/ready").json())["index"].get("version") not in (before, None)
                         and r["ready"] and r, what="the new version served")
        assert after["index"]["chunks"] == 5 and len(builds) == 2
        answer = c.post("/api/chat", json=chat_body(QUESTION)).json()
        assert answer["sources"][0]["source"] == "awards.md" and "Krakatoa" in answer["response"]
        # nothing changed, nothing reloaded: an unchanged re-ingest writes no new version
        ingest(mini_corpus, LanceDBStore(index_dir), hash_embedder)
        time.sleep(0.5)
        assert c.get("/ready").json()["index"]["version"] == after["index"]["version"] and len(builds) == 2


def test_a_deleted_index_is_a_degraded_answer_and_not_ready(served, mini_corpus, hash_embedder):
    index_dir, settings, build, builds = served
    with live_server(service.create_app(build, settings=settings)) as url, httpx.Client(base_url=url, timeout=30) as c:
        wait_for(lambda: c.get("/ready").status_code == 200, what="ready")
        assert c.post("/api/chat", json=chat_body()).json()["degraded"] is None

        shutil.rmtree(index_dir)
        answer = c.post("/api/chat", json=chat_body())
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["degraded"] == "retrieval" and body["sources"] == []
        assert "look that up right now" in body["response"]
        stream = c.post("/api/chat/stream", json=chat_body())
        assert stream.status_code == 200 and '"degraded": "retrieval"' in stream.text
        ready = c.get("/ready")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert "is gone" in ready.json()["missing"][0] and str(index_dir) not in ready.text  # /ready names no path

        ingest(mini_corpus, LanceDBStore(index_dir), hash_embedder)  # rebuilt from scratch
        wait_for(lambda: c.get("/ready").status_code == 200, what="ready again")
        again = c.post("/api/chat", json=chat_body()).json()
        assert again["degraded"] is None and again["sources"][0]["source"] == "education.md"


def test_requests_in_flight_finish_on_the_workbench_they_began_on(served, mini_corpus, hash_embedder):
    index_dir, settings, build, builds = served
    slow = StreamingEngine(lambda text: {}, delay=1.5)  # the first build's LM: its framing call is slow
    first = [True]

    def factory():
        engine = slow if first[0] else None
        first[0] = False
        return build(engine)

    with live_server(service.create_app(factory, settings=settings)) as url, httpx.Client(base_url=url, timeout=30) as c:
        wait_for(lambda: c.get("/ready").status_code == 200, what="ready")
        result: dict = {}
        question = "Tell me about the B.S. in Physics"  # English: the local LM frames it (slowly)
        asking = threading.Thread(target=lambda: result.update(r=c.post("/api/chat", json=chat_body(question))))
        asking.start()
        wait_for(lambda: slow.started, what="the slow request under way")
        (mini_corpus / "awards.md").write_text(AWARDS, encoding="utf-8")
        ingest(mini_corpus, LanceDBStore(index_dir), hash_embedder)
        # /ready looks at the files: asking it is what notices the new version
        wait_for(lambda: c.get("/ready").json()["index"].get("chunks") == 5, what="the reload")
        assert len(builds) == 2 and "r" not in result  # swapped while the slow one is still answering
        asking.join(timeout=30)
        assert result["r"].status_code == 200 and slow.requests  # it finished, on the old workbench's LM
        assert c.post("/api/chat", json=chat_body(QUESTION)).json()["sources"][0]["source"] == "awards.md"


def test_a_slow_start_answers_probes_at_once_and_a_visitor_once_it_is_up(served):
    """/health at once; /ready 503 + Retry-After while the program loads; a chat sent meanwhile waits
    for the load (the widget's first question after a deploy is answered), at most RAG_STARTUP_WAIT_S."""
    _, settings, build, _ = served
    release = threading.Event()

    def slow_build():
        release.wait(20)  # the models and the index are still loading
        return build()

    with live_server(service.create_app(slow_build, settings=settings.model_copy(update={"startup_wait_s": 0.3}))) \
            as url, httpx.Client(base_url=url, timeout=5) as c:
        assert c.get("/health").status_code == 200
        ready = c.get("/ready")
        asked = c.post("/api/chat", json=chat_body())  # waits 0.3 s, then says why
        assert ready.status_code == 503 and "loading" in ready.json()["error"] and ready.headers["Retry-After"]
        assert asked.status_code == 503 and "loading" in asked.json()["error"] and asked.headers["Retry-After"]
        release.set()
        wait_for(lambda: c.get("/ready").status_code == 200, what="ready after the load")
        assert c.post("/api/chat", json=chat_body()).status_code == 200

    release.clear()
    with live_server(service.create_app(slow_build, settings=settings)) as url, \
            httpx.Client(base_url=url, timeout=15) as c:
        assert c.get("/ready").status_code == 503  # probes never wait
        result: dict = {}
        asking = threading.Thread(target=lambda: result.update(r=c.post("/api/chat", json=chat_body())))
        asking.start()
        time.sleep(0.5)
        assert "r" not in result  # the visitor is waiting, not refused
        release.set()
        asking.join(timeout=15)
        assert result["r"].status_code == 200 and result["r"].json()["response"]
