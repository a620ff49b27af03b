"""PineconeStore through the real `pinecone` SDK against the local fake data plane."""

from __future__ import annotations

import math
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from pipeline.ingest import ingest
from pipeline.providers.base import Chunk, ProviderError, SearchRequest, VectorStore
from pipeline.providers.pinecone_store import MANIFEST_ID, PineconeStore, from_pinecone_id, to_pinecone_id
from pipeline.text import sparse_vector
from tests.fake_pinecone import FakePinecone
from tests.fakes import HashEmbedder

KEY = "pc-test-7f3a91c0d2e4"
NS = "mini"
KOREAN_ID = "papers.md#한국어-논문-군집-로봇-제어"

CHUNKS = [
    Chunk("education.md#ms-in-robotics", "education.md", "education", "M.S. in Robotics", "ms-in-robotics",
          "Studied swarm robotics with the ORCHID-7 testbed under Prof. Quill Tanaka.", "CV / Education", "h1"),
    Chunk("education.md#bs-in-physics", "education.md", "education", "B.S. in Physics", "bs-in-physics",
          "Graduated from Lumen University in 2019.", "CV / Education", "h2"),
    Chunk("papers.md#swarm-coordination", "papers.md", "papers", "Swarm Coordination with Sparse Signals",
          "swarm-coordination", "ICRA 2022 paper on the ORCHID-7 swarm, with Quill Tanaka.", "Papers", "h3"),
    Chunk(KOREAN_ID, "papers.md", "papers", "한국어 논문: 군집 로봇 제어", "한국어-논문-군집-로봇-제어",
          "군집 로봇의 분산 제어를 다룬 논문입니다.", "Papers", "h4"),
]


@pytest.fixture
def fake():
    with FakePinecone(api_key=KEY, dimension=64, metric="dotproduct") as server:
        yield server


@pytest.fixture
def store(fake) -> PineconeStore:
    return PineconeStore(api_key=KEY, index_name="workbench", namespace=NS, host=fake.url)


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder(dim=64)


@pytest.fixture
def filled(store, embedder) -> PineconeStore:
    store.upsert(CHUNKS, embedder.embed_passages([c.embed_text for c in CHUNKS]), embedder.name)
    return store


def query(embedder: HashEmbedder, text: str, k: int = 4, mode: str = "hybrid", doc_types=()) -> SearchRequest:
    return SearchRequest(embedder.embed_queries([text])[0], text, k, tuple(doc_types), mode)


def test_implements_the_vector_store_protocol(store):
    assert isinstance(store, VectorStore)


def test_an_empty_namespace_has_no_embedder_and_no_chunks(store):
    assert store.embedder_name() is None
    assert not store.exists()
    assert store.count() == 0
    assert store.existing_hashes() == {}
    assert store.chunks() == []


def test_upsert_then_count_hashes_doc_types_and_manifest(filled, fake, embedder):
    assert filled.count() == 4
    assert filled.existing_hashes() == {c.id: c.content_hash for c in CHUNKS}
    assert filled.doc_types() == ["education", "papers"]
    assert filled.embedder_name() == embedder.name
    from pipeline.text import KEYWORDS_VERSION

    assert filled.keywords_version() == KEYWORDS_VERSION  # its sparse vectors' tokenizer
    assert filled.exists()
    assert sorted(filled.chunks(), key=lambda c: c.id) == sorted(CHUNKS, key=lambda c: c.id)

    stored = fake.vectors(NS)
    assert MANIFEST_ID in stored and len(stored) == 5
    assert stored[MANIFEST_ID].metadata["embedder"] == embedder.name
    assert stored[MANIFEST_ID].metadata["dim"] == 64
    assert all(vid.isascii() for vid in stored)
    assert to_pinecone_id(KOREAN_ID) in stored
    chunk_meta = stored["education.md#ms-in-robotics"].metadata
    assert {k: chunk_meta[k] for k in ("source", "doc_type", "title", "anchor", "page_title", "text", "content_hash")} == {
        "source": "education.md", "doc_type": "education", "title": "M.S. in Robotics", "anchor": "ms-in-robotics",
        "page_title": "CV / Education", "text": CHUNKS[0].text, "content_hash": "h1",
    }


def test_upsert_carries_sparse_values_of_the_embed_text(filled, fake):
    (_, _, body), *_ = fake.calls("/vectors/upsert")
    assert body["namespace"] == NS
    first = body["vectors"][0]
    assert first["sparseValues"] == sparse_vector(CHUNKS[0].embed_text)
    assert len(first["values"]) == 64


def test_ids_map_reversibly_to_ascii():
    for chunk_id in (KOREAN_ID, "a.md#100%-done", "plain.md#x"):
        encoded = to_pinecone_id(chunk_id)
        assert encoded.isascii() and len(encoded) <= 512
        assert from_pinecone_id(encoded) == chunk_id
    assert to_pinecone_id("plain.md#x") == "plain.md#x"
    long_id = "awards.md#" + "가" * 100  # 900 characters once percent-encoded
    assert to_pinecone_id(long_id).startswith("sha256:")
    assert from_pinecone_id(to_pinecone_id(long_id), {"chunk_id": long_id}) == long_id


def test_an_id_too_long_to_encode_still_round_trips(store, embedder, fake):
    long_id = "awards.md#" + "가" * 100
    chunk = Chunk(long_id, "awards.md", "awards", "가" * 100, "가" * 100, "상을 받았습니다.", "Awards", "hx")
    store.upsert([chunk], embedder.embed_passages([chunk.embed_text]), embedder.name)
    assert store.existing_hashes() == {long_id: "hx"}
    [hit] = store.search(query(embedder, "상을 받았습니다", k=1))
    assert hit.chunk == chunk
    store.delete([long_id])
    assert store.count() == 0


def test_upserts_go_in_batches_of_at_most_100_and_listing_pages(store, fake, embedder):
    chunks = [
        Chunk(f"bulk.md#entry-{i:03d}", "bulk.md", "bulk", f"Entry {i}", f"entry-{i:03d}", f"text number {i}", "", f"h{i}")
        for i in range(250)
    ]
    store.upsert(chunks, embedder.embed_passages([c.embed_text for c in chunks]), embedder.name)
    sizes = [len(body["vectors"]) for _, _, body in fake.calls("/vectors/upsert")]
    assert sizes == [100, 100, 50, 1]  # three chunk batches, then the manifest
    fake.list_page_size = 40
    assert store.existing_hashes() == {c.id: c.content_hash for c in chunks}
    lists = fake.calls("/vectors/list")
    assert len(lists) == math.ceil(251 / 40)
    assert any("paginationToken" in parse_qs(urlsplit(path).query) for _, path, _ in lists)
    fetched = [parse_qs(urlsplit(path).query)["ids"] for _, path, _ in fake.calls("/vectors/fetch")]
    assert all(len(ids) <= 100 for ids in fetched)
    assert store.count() == 250


def test_dense_search_ranks_the_right_chunk_first(filled, embedder):
    hits = filled.search(query(embedder, "Lumen University physics", mode="dense"))
    assert hits[0].chunk.id == "education.md#bs-in-physics"
    assert hits[0].chunk == CHUNKS[1]
    # unit vectors and the dotproduct metric: a dense score is the cosine similarity
    expected = float(embedder.embed_queries(["Lumen University physics"])[0] @ embedder.embed_passages([CHUNKS[1].embed_text])[0])
    assert hits[0].score == pytest.approx(expected, abs=1e-5)
    korean = filled.search(query(embedder, "군집 로봇", mode="dense"))
    assert korean[0].chunk.id == KOREAN_ID


def test_hybrid_search_sends_one_query_with_a_weighted_sparse_vector(filled, fake, embedder):
    before = len(fake.calls("/query"))
    hits = filled.search(query(embedder, "swarm robotics testbed", mode="hybrid"))
    queries = fake.calls("/query")[before:]
    assert len(queries) == 1
    body = queries[0][2]
    assert body["namespace"] == NS and body["includeMetadata"] is True
    expected_sparse = sparse_vector("swarm robotics testbed", query=True)
    assert body["sparseVector"]["indices"] == expected_sparse["indices"]
    assert body["sparseVector"]["values"] == pytest.approx([0.4 * v for v in expected_sparse["values"]])
    assert np.linalg.norm(body["vector"]) == pytest.approx(0.6, abs=1e-5)  # unit vector × alpha
    assert hits[0].chunk.id == "education.md#ms-in-robotics"


def test_hybrid_search_uses_the_requests_fusion_weight(filled, fake, embedder):
    """The program's tuned weight reaches Pinecone (it used to be fixed in the adapter)."""
    vector = embedder.embed_queries(["swarm robotics testbed"])[0]
    before = len(fake.calls("/query"))
    filled.search(SearchRequest(vector, "swarm robotics testbed", 4, (), "hybrid", alpha=0.25))
    body = fake.calls("/query")[before:][0][2]
    expected_sparse = sparse_vector("swarm robotics testbed", query=True)
    assert np.linalg.norm(body["vector"]) == pytest.approx(0.25, abs=1e-5)
    assert body["sparseVector"]["values"] == pytest.approx([0.75 * v for v in expected_sparse["values"]])


def test_hybrid_and_dense_disagree_when_keywords_matter(filled, embedder):
    # the dense vector points at the ICRA paper; the words name the physics degree
    vector = embedder.embed_queries(["ICRA 2022 paper swarm"])[0]
    text = "Lumen University graduated physics"
    dense = filled.search(SearchRequest(vector, text, 4, (), "dense"))
    hybrid = filled.search(SearchRequest(vector, text, 4, (), "hybrid"))
    assert dense[0].chunk.id == "papers.md#swarm-coordination"
    assert hybrid[0].chunk.id == "education.md#bs-in-physics"


def test_dense_mode_sends_no_sparse_vector(filled, fake, embedder):
    filled.search(query(embedder, "swarm", mode="dense"))
    body = fake.calls("/query")[-1][2]
    assert "sparseVector" not in body
    assert np.linalg.norm(body["vector"]) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_doc_type_filter(filled, fake, embedder, mode):
    hits = filled.search(query(embedder, "ORCHID-7 swarm robotics", k=4, mode=mode, doc_types=["papers"]))
    assert hits and {h.chunk.doc_type for h in hits} == {"papers"}
    assert fake.calls("/query")[-1][2]["filter"] == {"doc_type": {"$in": ["papers"]}}
    unfiltered = filled.search(query(embedder, "ORCHID-7 swarm robotics", k=4, mode=mode))
    assert "education" in {h.chunk.doc_type for h in unfiltered}
    assert "filter" not in fake.calls("/query")[-1][2]


def test_delete_removes_chunks_everywhere(filled, fake, embedder):
    filled.delete(["education.md#bs-in-physics", KOREAN_ID])
    assert filled.count() == 2
    assert set(filled.existing_hashes()) == {"education.md#ms-in-robotics", "papers.md#swarm-coordination"}
    ids = {h.chunk.id for h in filled.search(query(embedder, "Lumen University 군집 로봇", k=10))}
    assert ids == {"education.md#ms-in-robotics", "papers.md#swarm-coordination"}
    assert filled.embedder_name() == embedder.name  # the manifest stays


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_the_manifest_is_never_a_hit(filled, fake, embedder, mode):
    # k above the namespace size: the service answers with every record, manifest included
    probe = np.zeros(64, dtype=np.float32)
    probe[0] = 1.0  # the manifest's only non-zero dimension
    hits = filled.search(SearchRequest(probe, "nothing matches this", 50, (), mode))
    assert fake.calls("/query")[-1][2]["topK"] > len(fake.vectors(NS))
    assert len(hits) == 4
    assert MANIFEST_ID not in {h.chunk.id for h in hits}
    assert all(h.chunk.doc_type for h in hits)
    assert len(filled.dense_search(probe, 50)) == 4


def test_wrong_api_key_is_a_provider_error_without_the_key(fake):
    secret = "pc-wrong-SUPERSECRET-123"
    store = PineconeStore(api_key=secret, index_name="workbench", namespace=NS, host=fake.url)
    for call in (store.count, store.existing_hashes, store.embedder_name,
                 lambda: store.search(SearchRequest(np.ones(64, dtype=np.float32), "x", 3))):
        with pytest.raises(ProviderError) as info:
            call()
        message = str(info.value)
        assert secret not in message and "SUPERSECRET" not in message
        assert "PINECONE_API_KEY" in message
        assert info.value.__cause__ is None and info.value.__suppress_context__
    # the fake really saw the wrong key, and a 401 is not retried
    assert {h.get("Api-Key") for h in fake.request_headers} == {secret}
    assert len(fake.requests) == 4


@pytest.mark.slow  # the SDK retries refused connections with backoff
def test_unreachable_host_is_a_provider_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the store connects
    store = PineconeStore(api_key=KEY, index_name="workbench", namespace=NS, host=f"http://127.0.0.1:{port}")
    with pytest.raises(ProviderError, match="could not reach Pinecone") as info:
        store.embedder_name()
    assert KEY not in str(info.value)


def test_a_rate_limited_request_is_retried_by_the_sdk(filled, fake, embedder):
    fake.inject(status=429, times=1, path="/query")
    hits = filled.search(query(embedder, "Lumen University physics"))
    assert hits[0].chunk.id == "education.md#bs-in-physics"
    assert len(fake.calls("/query")) == 2


def test_a_refused_request_names_the_cause(store, fake, embedder):
    store.upsert(CHUNKS[:1], embedder.embed_passages([CHUNKS[0].embed_text]), embedder.name)
    with pytest.raises(ProviderError, match="does not match the dimension"):
        store.upsert(CHUNKS[1:2], np.ones((1, 32), dtype=np.float32) / math.sqrt(32), embedder.name)


def test_ingest_is_idempotent(mini_corpus: Path, store, fake):
    embedder = HashEmbedder(dim=64)
    first = ingest(mini_corpus, store, embedder)
    assert first.new == first.chunks > 0 and first.updated == 0
    assert store.count() == first.chunks
    calls_after_first = embedder.calls

    second = ingest(mini_corpus, store, embedder)
    assert (second.new, second.updated, second.deleted) == (0, 0, 0)
    assert second.unchanged == first.chunks
    assert embedder.calls == calls_after_first  # nothing re-embedded

    # an edited entry is updated, a removed one deleted, and only those
    papers = mini_corpus / "papers.md"
    text = papers.read_text(encoding="utf-8")
    text = text.replace("A paper on the ORCHID-7 swarm.", "A paper on the ORCHID-8 swarm.")
    text = text[: text.index("## 한국어 논문")]
    papers.write_text(text, encoding="utf-8")
    third = ingest(mini_corpus, store, embedder)
    assert (third.new, third.updated, third.deleted) == (0, 1, 1)
    assert store.count() == first.chunks - 1
    assert not any("한국어" in cid for cid in store.existing_hashes())


def test_clear_empties_the_namespace_and_forgets_the_embedder(filled, embedder):
    assert filled.count() > 0 and filled.embedder_name() == embedder.name
    filled.clear()
    assert filled.count() == 0 and filled.embedder_name() is None
