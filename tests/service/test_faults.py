"""The service under provider faults, with the real SDKs talking to local fake servers.

Gemini (LM: DSPy's native provider; embeddings: google-genai) and Pinecone (the `pinecone`
SDK) are fakes on 127.0.0.1 that answer 429, 500, slowly, or not at all (a closed port). What
the visitor must get:

    LM fails               → 200 from the site without it (degraded "lm"), after the bounded retries
    retrieval fails        → 200 with an honest "I can't look that up right now", in their language
    anything too slow      → the deadline: degraded during retrieval, 503 otherwise
    too many at once       → 503 + Retry-After beyond the queue
"""

from __future__ import annotations

import json
import socket
import threading

import anyio
import httpx
import pytest

import service
from pipeline.factory import make_lm, make_store
from pipeline.ingest import ingest
from pipeline.providers.gemini_embedder import GeminiEmbedder
from tests.fake_gemini import FakeGemini
from tests.fake_pinecone import FakePinecone
from tests.servicekit import (
    StreamingEngine,
    asgi_client,
    chat_body,
    fake_lm,
    make_workbench,
    parse_sse,
    planner_script,
    service_settings,
)

pytestmark = pytest.mark.anyio

GEMINI_KEY = "gm-test-fault-5b1d07e9aa"
PINECONE_KEY = "pc-test-fault-7f3a91c0d2"
REPLY = {  # one JSON object carrying every signature's outputs; the adapter takes what it needs
    "relevant": True,
    "needs_retrieval": True,
    "doc_types": ["education"],
    "standalone_query": "",
    "answer": "I studied robotics at Zephyr Institute under Prof. Quill Tanaka; see Education.",
    "lead": "Here is what my site says:",
}
ENGLISH = "Where did you study robotics?"
KOREAN = "로봇공학은 어디서 공부했어요?"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def gemini():
    with FakeGemini(api_key=GEMINI_KEY, reply=json.dumps(REPLY)) as fake:
        yield fake


@pytest.fixture
def pinecone():
    with FakePinecone(api_key=PINECONE_KEY, dimension=64, metric="dotproduct") as fake:
        yield fake


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here any more: connection refused


def cloud(tmp_path, gemini, pinecone, mini_corpus, *, lm_url=None, pinecone_url=None, lm_retries=1, **overrides):
    """Gemini LM + Gemini embeddings + Pinecone, as the factory makes them, on the fakes."""
    settings = service_settings(
        tmp_path, gemini_api_key=GEMINI_KEY, gemini_base_url=gemini.url, pinecone_api_key=PINECONE_KEY,
        pinecone_index_name="workbench", pinecone_host=pinecone.url, pinecone_namespace="mini", embedding_dim=64,
        **overrides,
    )
    embedder = GeminiEmbedder(GEMINI_KEY, settings.gemini_embedding_model, 64, base_url=gemini.url, attempts=2)
    store = make_store(settings)
    ingest(mini_corpus, store, embedder)
    lm = make_lm(settings.model_copy(update={"gemini_base_url": lm_url or gemini.url}))
    lm.num_retries = lm_retries  # bounded; the default (3) backs off 1 + 2 + 4 s
    workbench = make_workbench(store, embedder, lm, settings)
    if pinecone_url:
        store.host = pinecone_url
        store._index_client = None  # reopened on the next call, at the dead address
    gemini.requests.clear()
    pinecone.requests.clear()
    return workbench


async def ask(workbench, question=ENGLISH, path="/api/chat", **overrides) -> httpx.Response:
    settings = workbench.settings.model_copy(update=overrides)
    async with asgi_client(service.create_app(workbench, settings=settings), timeout=60) as client:
        return await client.post(path, json=chat_body(question))


def assert_unavailable(response: httpx.Response, words: str) -> None:
    assert response.status_code == 503, response.text
    assert words in response.json()["error"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert GEMINI_KEY not in response.text and PINECONE_KEY not in response.text


def assert_degraded(response: httpx.Response, language: str = "en") -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] == "retrieval" and body["sources"] == [] and body["language"] == language
    assert ("can&#x27;t look that up right now" if language == "en" else "찾아볼 수 없어요") in body["response"]


# -- the happy path, for reference --------------------------------------------------------------


async def test_the_cloud_providers_answer_through_their_sdks(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus)
    response = await ask(workbench)
    assert response.status_code == 200
    body = response.json()
    assert body["degraded"] is None and body["sources"][0]["source"] == "education.md"
    assert "Quill Tanaka" in body["response"]
    assert len(gemini.calls("generateContent")) == 2  # plan and generate
    assert pinecone.calls("/query")


# -- the LM --------------------------------------------------------------------------------------


def assert_answered_without_the_lm(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["degraded"] == "lm" and "Quill Tanaka" in body["response"] and body["sources"]


@pytest.mark.parametrize("status", [429, 500])
async def test_lm_errors_are_retried_then_answered_from_the_site_without_it(tmp_path, gemini, pinecone, mini_corpus,
                                                                           status):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus, lm_retries=2)
    gemini.inject(status=status, times=None, path="generateContent", retry_after=0.05)
    assert_answered_without_the_lm(await ask(workbench))
    assert len(gemini.calls("generateContent")) == 3  # the first try and two retries, then it gave up


async def test_a_transient_lm_error_is_retried_and_answered(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus)
    gemini.inject(status=429, times=1, path="generateContent", retry_after=0.05)
    response = await ask(workbench)
    assert response.status_code == 200 and response.json()["degraded"] is None
    assert len(gemini.calls("generateContent")) == 3  # plan (429, then retried) and generate


async def test_an_lm_that_refuses_connections_is_answered_without(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus, lm_url=closed_port_url(), lm_retries=0)
    assert_answered_without_the_lm(await ask(workbench))


async def test_a_slow_lm_meets_the_deadline_with_503(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus)
    gemini.inject(delay=3.0, times=None, path="generateContent")
    response = await ask(workbench, request_deadline_s=1.0)
    assert_unavailable(response, "took too long")


async def test_an_lm_failing_under_a_stream_streams_the_answer_without_it(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus, lm_retries=0)
    gemini.inject(status=500, times=None, path="enerateContent")  # generateContent and streamGenerateContent
    response = await ask(workbench, path="/api/chat/stream")
    events = parse_sse(response.text)
    assert events[0][0] == "start" and events[-1][0] == "final"
    assert events[-1][1]["degraded"] == "lm" and "Quill Tanaka" in events[-1][1]["response"]


# -- retrieval: Pinecone and the embedder ----------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500])
async def test_store_errors_degrade_to_an_honest_answer(tmp_path, gemini, pinecone, mini_corpus, status):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus)
    pinecone.inject(status=status, times=None, path="/query", retry_after=0.05)
    assert_degraded(await ask(workbench))
    assert len(pinecone.calls("/query")) == 4  # the SDK's first try and its 3 retries (with jitter)
    assert len(gemini.calls("generateContent")) == 1  # the plan; no answer was generated from nothing


async def test_a_store_that_refuses_connections_degrades_in_korean(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus, pinecone_url=closed_port_url())
    assert_degraded(await ask(workbench, KOREAN), "ko")


async def test_a_slow_store_meets_the_deadline_with_a_degraded_answer(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus)
    pinecone.inject(delay=3.0, times=None, path="/query")
    assert_degraded(await ask(workbench, request_deadline_s=1.5))


@pytest.mark.parametrize("status", [429, 500])
async def test_embedder_errors_degrade_to_an_honest_answer(tmp_path, gemini, pinecone, mini_corpus, status):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus)
    gemini.inject(status=status, times=None, path="batchEmbedContents", retry_after=0.05)
    assert_degraded(await ask(workbench))
    assert len(gemini.calls("batchEmbedContents")) == 2  # google-genai's bounded attempts
    assert gemini.calls("generateContent") == []  # nothing to plan or answer from


async def test_an_embedder_that_refuses_connections_degrades(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus)
    dead = GeminiEmbedder(GEMINI_KEY, workbench.settings.gemini_embedding_model, 64, base_url=closed_port_url(),
                          attempts=2)
    workbench.embedder._client = dead._client  # the planner's exemplars were embedded at build time
    assert_degraded(await ask(workbench, KOREAN), "ko")
    assert gemini.calls("generateContent") == []


async def test_a_slow_embedder_meets_the_deadline_with_a_degraded_answer(tmp_path, gemini, pinecone, mini_corpus):
    workbench = cloud(tmp_path, gemini, pinecone, mini_corpus)
    gemini.inject(delay=3.0, times=None, path="batchEmbedContents")
    assert_degraded(await ask(workbench, request_deadline_s=1.5))


# -- capacity ----------------------------------------------------------------------------------------


async def test_beyond_the_queue_is_503_with_retry_after(mini_index, hash_embedder, tmp_path):
    engine = StreamingEngine(planner_script(), delay=0.6)
    settings = service_settings(tmp_path, worker_threads=1, lm_queue_depth=1)
    app = service.create_app(make_workbench(mini_index, hash_embedder, fake_lm(engine), settings))
    statuses: list[int] = []
    retry_after: list[str] = []
    async with asgi_client(app, timeout=60) as client:
        async def one(delay):
            await anyio.sleep(delay)
            response = await client.post("/api/chat", json=chat_body())
            statuses.append(response.status_code)
            if response.status_code == 503:
                retry_after.append(response.headers["Retry-After"])
                assert "busy" in response.json()["error"]

        async with anyio.create_task_group() as tg:
            for i in range(3):  # one works, one waits, one is turned away
                tg.start_soon(one, i * 0.1)
    assert sorted(statuses) == [200, 200, 503] and int(retry_after[0]) >= 1


async def test_waiting_past_the_deadline_is_503(mini_index, hash_embedder, tmp_path):
    engine = StreamingEngine(planner_script(), delay=1.0)
    settings = service_settings(tmp_path, worker_threads=1, lm_queue_depth=4, request_deadline_s=1.2)
    app = service.create_app(make_workbench(mini_index, hash_embedder, fake_lm(engine), settings))
    results: dict[str, httpx.Response] = {}
    async with asgi_client(app, timeout=60) as client:
        async def one(name, delay):
            await anyio.sleep(delay)
            results[name] = await client.post("/api/chat", json=chat_body())

        async with anyio.create_task_group() as tg:
            tg.start_soon(one, "first", 0)
            tg.start_soon(one, "second", 0.1)
    # the first outlives its deadline in the generate call, and its thread keeps the only worker
    # until that call returns (~2 s): the second never gets a worker in time
    assert results["first"].status_code == 503 and "took too long" in results["first"].json()["error"]
    assert results["second"].status_code == 503 and "waited too long" in results["second"].json()["error"]
    assert engine.started == 2  # plan and generate of the first; nothing of the second


def test_the_local_lm_engine_is_called_one_at_a_time():
    """What the queue stands in front of: the in-process engine serialises its calls."""
    from pipeline.providers.llama_engine import LlamaCppEngine

    engine = LlamaCppEngine.__new__(LlamaCppEngine)
    engine._lock = threading.Lock()
    active, peak = [0], [0]

    class Model:
        def create_chat_completion(self, **kwargs):
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            threading.Event().wait(0.05)
            active[0] -= 1
            return {"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}], "usage": {}}

    engine._llama = Model()
    engine.seed, engine.calls = 0, 0
    from dspy import lm15

    request = lm15.Request(model="local", messages=(lm15.Message.user("hi"),))
    threads = [threading.Thread(target=engine.complete, args=(request,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1 and engine.calls == 4
