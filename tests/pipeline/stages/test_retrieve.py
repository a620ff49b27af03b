import numpy as np
import pytest

from pipeline.ingest import ingest
from pipeline.lang import default_knowledge
from pipeline.params import ProgramParams
from pipeline.providers.base import Chunk, Hit
from pipeline.providers.lancedb_store import LanceDBStore
from pipeline.retrieval_fusion import convex_fusion, reciprocal_rank_fusion
from pipeline.stages.retrieve import Retrieve, collapse_duplicates


@pytest.fixture
def indexed(mini_corpus, tmp_path, hash_embedder):
    store = LanceDBStore(tmp_path / "index")
    ingest(mini_corpus, store, hash_embedder)
    return store, hash_embedder


class Found:
    def __init__(self, hits, filtered):
        self.hits, self.filtered = hits, filtered


def _search(store, embedder, query, mode="hybrid", doc_types=(), filter_mode="hard", k=2):
    vector = embedder.embed_queries([query])[0]
    params = ProgramParams(retrieval_mode=mode)
    return Found(*Retrieve(store, default_knowledge()).search(query, vector, k, doc_types, filter_mode, params))


def test_keyword_path_finds_rare_codes(indexed):
    store, embedder = indexed
    hits = store.keyword_search("ORCHID-7 testbed", 5)
    assert hits and hits[0].chunk.id == "education.md#ms-in-robotics"
    target = "education.md#ms-in-robotics"
    dense = [h.chunk.id for h in _search(store, embedder, "orchid-7 testbed", mode="dense", k=4).hits]
    hybrid = [h.chunk.id for h in _search(store, embedder, "orchid-7 testbed", k=4).hits]
    assert hybrid.index(target) <= dense.index(target)


def test_korean_keyword_search_matches_inside_words(indexed):
    store, _ = indexed
    hits = store.keyword_search("로봇 제어 논문", 3)
    assert hits[0].chunk.id == "papers.md#한국어-논문-군집-로봇-제어"


def test_filter_applies_and_falls_back_when_empty(indexed):
    store, embedder = indexed
    filtered = _search(store, embedder, "swarm robotics", doc_types=["papers"], k=5)
    assert filtered.filtered and {h.chunk.doc_type for h in filtered.hits} == {"papers"}
    missing = _search(store, embedder, "swarm robotics", doc_types=["awards"], k=5)
    assert not missing.filtered and len(missing.hits) == 4


def test_soft_filter_keeps_strong_hits_outside_the_section(indexed):
    store, embedder = indexed
    soft = _search(store, embedder, "Lumen University physics", doc_types=["papers"], filter_mode="soft", k=3)
    assert "education.md#bs-in-physics" in [h.chunk.id for h in soft.hits]
    scores = [h.score for h in soft.hits]
    assert scores[0] == 1.0 and scores == sorted(scores, reverse=True)  # scores fall with the rank
    hard = _search(store, embedder, "Lumen University physics", doc_types=["papers"], filter_mode="hard", k=3)
    assert "education.md#bs-in-physics" not in [h.chunk.id for h in hard.hits]


def test_dense_mode_and_zero_k(indexed):
    store, embedder = indexed
    assert _search(store, embedder, "physics", mode="dense").hits
    assert _search(store, embedder, "physics", k=0).hits == []


def _hit(cid, title, doc_type, score):
    return Hit(Chunk(cid, cid.split("#")[0], doc_type, title, cid.split("#")[1], "t"), score)


def test_duplicates_collapse_to_the_dedicated_page():
    hits = [_hit("full-cv.md#a", "A", "cv", 0.9), _hit("projects.md#a", "A", "projects", 0.5), _hit("x.md#b", "B", "x", 0.4)]
    out = collapse_duplicates(hits, 5)
    assert [(h.chunk.id, h.score) for h in out] == [("projects.md#a", 0.9), ("x.md#b", 0.4)]


def test_fusions_prefer_agreement_and_keep_magnitudes():
    a, b, c = _hit("f#a", "A", "x", 0.9), _hit("f#b", "B", "x", 0.8), _hit("f#c", "C", "x", 0.7)
    rrf = reciprocal_rank_fusion([[a, b], [b, c]], k=3)
    assert rrf[0].chunk.id == "f#b"
    # a keyword score far above the rest wins even against the top dense hit
    dense = [_hit("f#a", "A", "x", 0.90), _hit("f#b", "B", "x", 0.88), _hit("f#c", "C", "x", 0.80)]
    keyword = [_hit("f#b", "B", "x", 12.0), _hit("f#a", "A", "x", 1.0)]
    fused = convex_fusion(dense, keyword, k=3, alpha=0.7)
    assert fused[0].chunk.id == "f#b"
    assert np.isclose(fused[0].score, 0.7 * 0.8 + 0.3 * 1.0)


def test_rank_fusion_weights_each_ranking():
    from pipeline.providers.base import Chunk, Hit

    a, b = (Hit(Chunk(id=x, source="s.md", doc_type="t", title=x, anchor=x, text=x), 1.0) for x in "ab")
    assert [h.chunk.id for h in reciprocal_rank_fusion([[a, b], [b, a]], k=2, weights=[1.0, 0.5])] == ["a", "b"]
    assert [h.chunk.id for h in reciprocal_rank_fusion([[a, b], [b, a]], k=2, weights=[0.5, 1.0])] == ["b", "a"]


def test_a_question_about_the_present_puts_current_entries_first():
    old = Hit(Chunk("cv.md#a", "cv.md", "x", "Prize", "a", "Date: 2019\nI presented it."), 0.9)
    now = Hit(Chunk("cv.md#b", "cv.md", "x", "Job", "b", "Period: 2023 – Present"), 0.5)
    stage = Retrieve(None, default_knowledge())
    assert [h.chunk.id for h in stage.answering_first([old, now], "What do you do these days?")] == ["cv.md#b", "cv.md#a"]
    assert [h.chunk.id for h in stage.answering_first([old, now], "Tell me about your prize")] == ["cv.md#a", "cv.md#b"]


def test_an_entry_that_states_the_asked_field_comes_first():
    bs = Hit(Chunk("e.md#bs", "e.md", "education", "B.S.", "bs", "Institution: A\nPeriod: 2016 – 2020"), 0.9)
    phd = Hit(Chunk("e.md#phd", "e.md", "education", "Ph.D.", "phd", "Institution: B\nAdvisor: Prof. X"), 0.7)
    stage = Retrieve(None, default_knowledge())
    assert [h.chunk.id for h in stage.answering_first([bs, phd], "Who was your advisor?")] == ["e.md#phd", "e.md#bs"]
    assert [h.chunk.id for h in stage.answering_first([bs, phd], "지도교수님이 누구세요?")] == ["e.md#phd", "e.md#bs"]
