import math

import pytest

from evals.ragas_scoring import JUDGE, score_records
from tests.fake_gemini import FakeGemini

RECORD = {
    "answer_text": "I did my M.S. in Computer Science at KAIST.",
    "reference_answer": "My M.S. was in Computer Science at KAIST, 2020-2022.",
    "rewritten_query": "Where did you do your master's?",
    "retrieved_texts": ["M.S. in Computer Science — KAIST, 2020-2022"],
    "retrieved_ids": ["education.md#ms", "papers.md#x"],
    "reference_ids": ["education.md#ms"],
}


@pytest.mark.slow
def test_non_llm_ragas_scores_and_the_cache(tmp_path, hash_embedder):
    cache = tmp_path / "scores.json"
    unrelated = RECORD | {"answer_text": "Bananas are yellow.", "retrieved_ids": ["papers.md#x"]}
    (scores, other), failures = score_records([RECORD, unrelated], embedder=hash_embedder, cache_path=cache)
    assert failures == {}
    assert scores["id_context_recall"] == 1.0 and other["id_context_recall"] == 0.0
    assert 0 < scores["id_context_precision"] <= 1.0
    for metric in ("string_similarity", "rouge_l", "semantic_similarity"):
        assert scores[metric] > other[metric], metric
    assert cache.exists()
    calls = hash_embedder.calls
    again, _ = score_records([RECORD, unrelated], embedder=hash_embedder, cache_path=cache)
    assert again == [scores, other] and hash_embedder.calls == calls  # served from the cache


@pytest.mark.slow
def test_a_failing_judge_is_counted_not_averaged(tmp_path, hash_embedder):
    with FakeGemini(api_key="judge-key") as fake:
        fake.inject(500, times=None)
        (scores,), failures = score_records(
            [RECORD],
            judge_lm="gemini/gemini-2.5-flash",
            embedder=hash_embedder,
            cache_path=tmp_path / "scores.json",
            judge_kwargs={"api_base": f"{fake.url}/v1beta", "api_key": "judge-key", "num_retries": 0},
        )
        assert fake.calls("generateContent"), "the judge's requests reached the local fake"
    for metric in JUDGE:
        assert math.isnan(scores[metric]), metric
        assert failures[metric] == 1, (metric, failures)
    assert scores["rouge_l"] > 0  # the judge-free metrics are unaffected
