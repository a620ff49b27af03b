"""The evaluation's embedding cache: a second run embeds nothing, and changes no number."""

from __future__ import annotations

import numpy as np
import pytest

from evals.dataset import Case
from evals.embedding_cache import CachingEmbedder, EmbeddingCache
from evals.runner import evaluate
from tests.fakes import HashEmbedder, ScriptedEngine
from tests.servicekit import fake_lm, make_workbench, planner_script, service_settings


def test_vectors_come_back_as_computed_per_embedder_and_kind(tmp_path):
    path = tmp_path / "embeddings.sqlite"
    inner = HashEmbedder()
    first = CachingEmbedder(inner, EmbeddingCache(path))
    queries = first.embed_queries(["Where did you study?", "박사 과정은 어디서?"])
    first.cache.close()
    assert inner.calls == 1

    reopened = CachingEmbedder(inner, EmbeddingCache(path))  # a second process: only the file
    again = reopened.embed_queries(["박사 과정은 어디서?", "Where did you study?"])
    assert inner.calls == 1 and again.dtype == queries.dtype == np.float32
    assert np.array_equal(again, queries[::-1])  # the same bytes, in the order asked
    reopened.embed_passages(["Where did you study?"])  # a passage is not a query (e5 prefixes differ)
    assert inner.calls == 2 and reopened.cache.hits == 2 and reopened.cache.misses == 1
    other = HashEmbedder(dim=32)
    other.name = "fake/hash-32"
    assert CachingEmbedder(other, reopened.cache).embed_queries(["Where did you study?"]).shape == (1, 32)
    assert other.calls == 1  # another embedder's name is another key
    assert first.name == inner.name and first.dim == inner.dim  # index checks and score keys see no wrapper
    reopened.cache.close()


def _case(i, question, contexts, reference):
    return Case(id=f"q{i}", question=question, language="en", category="single-fact", expected_relevant=True,
                expected_retrieval=True, reference_answer=reference, reference_contexts=contexts, split="test")


@pytest.mark.slow
def test_a_second_evaluation_embeds_nothing_and_scores_the_same(tmp_path, mini_index):
    embedder = HashEmbedder()
    settings = service_settings(tmp_path)
    bench = make_workbench(mini_index, embedder, fake_lm(ScriptedEngine(planner_script())), settings)
    cases = [_case(1, "Where did you study robotics?", ["education.md#ms-in-robotics"],
                   "I studied robotics at Zephyr Institute."),
             _case(2, "Which papers did you write?", ["papers.md#swarm-coordination-with-sparse-signals"],
                   "Swarm Coordination with Sparse Signals, ICRA 2022.")]
    cache_file = tmp_path / "cache" / "embeddings.sqlite"
    program_embedder = bench.program.embedder

    before = embedder.texts_embedded
    untouched: list[bool] = []  # while answers are in flight, the shared program keeps its own embedder
    cold = evaluate(bench, cases, score_cache=tmp_path / "cache" / "scores.json", embedding_cache=cache_file,
                    progress=lambda: untouched.append(bench.program.embedder is program_embedder))
    assert untouched and all(untouched)
    cold_texts = embedder.texts_embedded - before
    # each query, the two references and the (scripted, shared) answer for semantic similarity
    assert cold_texts >= 2 + 2 + 1
    assert bench.program.embedder is program_embedder  # the wrapper was the run's only

    before = embedder.texts_embedded
    # a new score cache: semantic similarity is computed again, from cached vectors
    warm = evaluate(bench, cases, score_cache=tmp_path / "other-scores.json", embedding_cache=cache_file)
    assert embedder.texts_embedded == before
    columns = [c for c in cold.frame.columns if not c.startswith("ms_") and c != "latency_ms"]
    assert cold.frame[columns].equals(warm.frame[columns])

    uncached = evaluate(bench, cases, score_cache=None, embedding_cache=None)  # --no-cache
    assert embedder.texts_embedded > before
    assert uncached.frame["semantic_similarity"].tolist() == cold.frame["semantic_similarity"].tolist()
