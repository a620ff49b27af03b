"""Exact in-memory dense search, and the LanceDB store answering from it."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.ingest import ingest
from pipeline.providers.base import Chunk
from pipeline.providers.exact_search import ExactIndex, top_k_indices
from pipeline.providers.lancedb_store import LanceDBStore


def _chunks(n: int) -> list[Chunk]:
    kinds = ("papers", "awards", "education")
    return [Chunk(id=f"f.md#c{i}", source="f.md", doc_type=kinds[i % 3], title=f"c{i}", anchor=f"c{i}",
                  text=f"entry {i}") for i in range(n)]


@pytest.fixture
def random_index():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 32)).astype(np.float32)
    return ExactIndex(_chunks(300), vectors), vectors / np.linalg.norm(vectors, axis=1, keepdims=True), rng


def test_top_k_indices_are_the_best_scores_in_order():
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.3])
    assert top_k_indices(scores, 3).tolist() == [1, 3, 2]
    assert top_k_indices(scores, 10).tolist() == [1, 3, 2, 4, 0]
    assert top_k_indices(scores, 0).tolist() == []


def test_search_matches_brute_force_cosine(random_index):
    index, unit, rng = random_index
    for _ in range(20):
        query = rng.normal(size=32).astype(np.float32) * 5  # not normalised: cosine must not care
        want = np.argsort(-(unit @ (query / np.linalg.norm(query))))[:10]
        hits = index.search(query, 10)
        assert [h.chunk.anchor for h in hits] == [f"c{i}" for i in want]
        assert hits[0].score == pytest.approx(float(unit[want[0]] @ (query / np.linalg.norm(query))), abs=1e-5)


def test_filtered_search_only_returns_and_ranks_the_chosen_types(random_index):
    index, unit, rng = random_index
    query = rng.normal(size=32).astype(np.float32)
    hits = index.search(query, 5, ["awards", "education"])
    assert {h.chunk.doc_type for h in hits} <= {"awards", "education"} and len(hits) == 5
    allowed = [i for i in range(300) if i % 3 != 0]
    want = sorted(allowed, key=lambda i: -(unit[i] @ query))[:5]
    assert [h.chunk.anchor for h in hits] == [f"c{i}" for i in want]
    assert index.search(query, 5, ["unknown-type"]) == []
    assert len(index.search(query, 500, ["papers"])) == 100  # never more than the filter allows


def test_empty_index_and_zero_query_are_handled():
    assert ExactIndex([], np.zeros((0, 8), dtype=np.float32)).search(np.ones(8), 3) == []
    index = ExactIndex(_chunks(3), np.eye(3, 8, dtype=np.float32))
    assert len(index.search(np.zeros(8), 2)) == 2


def test_the_store_answers_dense_queries_like_lancedb_itself(mini_corpus, tmp_path, hash_embedder):
    store = LanceDBStore(tmp_path / "index")
    ingest(mini_corpus, store, hash_embedder)
    for text in ("advisor of the robotics degree", "swarm paper at ICRA", "군집 로봇"):
        vector = hash_embedder.embed_queries([text])[0]
        exact = store.dense_search(vector, 4)
        native = store.native_dense_search(vector, 4)
        # the same chunks with the same scores, best first (equal scores may come in either order)
        assert {h.chunk.id: round(h.score, 5) for h in exact} == {h.chunk.id: round(h.score, 5) for h in native}
        assert [h.score for h in exact] == sorted((h.score for h in exact), reverse=True)
        by_id = {h.chunk.id: h.chunk for h in native}
        assert all(h.chunk == by_id[h.chunk.id] for h in exact)  # the metadata is the stored metadata
        assert {h.chunk.doc_type for h in store.dense_search(vector, 4, ["papers"])} == {"papers"}


def test_the_snapshot_follows_writes_made_through_the_store(mini_corpus, tmp_path, hash_embedder):
    store = LanceDBStore(tmp_path / "index")
    ingest(mini_corpus, store, hash_embedder)
    probe = hash_embedder.embed_queries(["zeppelin navigation award"])[0]
    before = {h.chunk.id for h in store.dense_search(probe, 10)}
    (mini_corpus / "awards.md").write_text(
        "---\ntitle: Awards\n---\n\n## Zeppelin Navigation Award\n\nGiven for zeppelin navigation.\n", encoding="utf-8")
    ingest(mini_corpus, store, hash_embedder)
    after = store.dense_search(probe, 10)
    assert after[0].chunk.source == "awards.md" and after[0].chunk.id not in before
    (mini_corpus / "awards.md").unlink()
    ingest(mini_corpus, store, hash_embedder)
    assert all(h.chunk.source != "awards.md" for h in store.dense_search(probe, 10))


def test_above_the_row_cap_the_store_uses_lancedb_search(mini_corpus, tmp_path, hash_embedder):
    ingest(mini_corpus, LanceDBStore(tmp_path / "index"), hash_embedder)
    capped = LanceDBStore(tmp_path / "index", exact_max_rows=2)
    vector = hash_embedder.embed_queries(["swarm robotics"])[0]
    native = LanceDBStore(tmp_path / "index").native_dense_search(vector, 3)
    assert [(h.chunk.id, h.score) for h in capped.dense_search(vector, 3)] == [(h.chunk.id, h.score) for h in native]
    assert capped._exact is None  # never loaded
