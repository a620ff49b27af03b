"""GeminiEmbedder through the real `google-genai` SDK against the local fake Gemini API."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pipeline.providers.base import Embedder, ProviderError
from pipeline.providers.gemini_embedder import GeminiEmbedder
from tests.fake_gemini import FakeGemini

KEY = "gm-test-5b1d07e9aa"
MODEL = "gemini-embedding-001"


@pytest.fixture
def fake():
    with FakeGemini(api_key=KEY) as server:
        yield server


@pytest.fixture
def embedder(fake) -> GeminiEmbedder:
    return GeminiEmbedder(KEY, MODEL, 64, base_url=fake.url)


def test_implements_the_embedder_protocol(embedder):
    assert isinstance(embedder, Embedder)
    assert embedder.name == f"gemini/{MODEL}@64" and embedder.dim == 64


def test_returns_unit_vectors_of_the_requested_size(embedder, fake):
    texts = ["swarm robotics with the ORCHID-7 testbed", "robotics with a swarm testbed", "a recipe for kimchi stew"]
    vectors = embedder.embed_passages(texts)
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # the API does not normalise below 3072 dimensions: the adapter must
    raw = fake.calls("batchEmbedContents")[-1]
    assert raw[2]["requests"][0]["outputDimensionality"] == 64
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]

    _, path, body = fake.calls("batchEmbedContents")[0]
    # google-genai 3.x talks to the v1 API by default (GOOGLE_GENAI_API_VERSION=beta: v1beta)
    assert re.fullmatch(rf"/v1(beta)?/models/{MODEL}:batchEmbedContents", path)
    assert [r["content"]["parts"][0]["text"] for r in body["requests"]] == texts
    assert all(r["model"] == f"models/{MODEL}" for r in body["requests"])
    assert fake.request_headers[0].get("x-goog-api-key") == KEY


def test_batches_over_100_texts_into_several_requests_in_order(embedder, fake):
    texts = [f"entry number {i} about topic {i % 7}" for i in range(230)]
    vectors = embedder.embed_passages(texts)
    assert vectors.shape == (230, 64)
    sizes = [len(body["requests"]) for _, _, body in fake.calls("batchEmbedContents")]
    assert sizes == [100, 100, 30]
    # order is kept across batches: row i is the embedding of text i
    singles = embedder.embed_passages([texts[0], texts[150], texts[229]])
    assert np.allclose(vectors[[0, 150, 229]], singles, atol=1e-6)


@pytest.mark.parametrize(
    "method, task_type",
    [("embed_queries", "RETRIEVAL_QUERY"), ("embed_passages", "RETRIEVAL_DOCUMENT")],
)
def test_sends_the_task_type(embedder, fake, method, task_type):
    getattr(embedder, method)(["what did she study?", "where?"])
    [(_, _, body)] = fake.calls("batchEmbedContents")
    assert [r["taskType"] for r in body["requests"]] == [task_type, task_type]


def test_no_texts_no_request(embedder, fake):
    assert embedder.embed_queries([]).shape == (0, 64)
    assert fake.requests == []


def test_wrong_key_is_a_provider_error_without_the_key(fake):
    secret = "gm-wrong-SUPERSECRET-42"
    embedder = GeminiEmbedder(secret, MODEL, 64, base_url=fake.url)
    with pytest.raises(ProviderError) as info:
        embedder.embed_queries(["hello"])
    message = str(info.value)
    assert "GEMINI_API_KEY" in message
    assert secret not in message and "SUPERSECRET" not in message
    assert len(fake.requests) == 1  # a 400 is not retried
    assert fake.request_headers[0].get("x-goog-api-key") == secret


def test_a_server_error_is_a_provider_error(fake):
    fake.inject(status=503, times=None)
    embedder = GeminiEmbedder(KEY, MODEL, 64, base_url=fake.url, attempts=1)
    with pytest.raises(ProviderError, match="503"):
        embedder.embed_passages(["hello"])


def test_an_unknown_model_names_the_cause(fake):
    embedder = GeminiEmbedder(KEY, "no-such-embedder", 64, base_url=fake.url)
    with pytest.raises(ProviderError, match="404"):
        embedder.embed_passages(["hello"])
