import math

import pytest

from evals import metrics


def test_retrieval_metrics_on_a_known_ranking():
    got = metrics.retrieval_metrics(["a", "x", "b", "y", "z", "c"], ["b", "c"], k=5)
    assert got["hit@1"] == 0.0 and got["hit@5"] == 1.0
    assert got["recall@5"] == 0.5
    assert got["mrr"] == pytest.approx(1 / 3)
    assert got["ndcg@5"] == pytest.approx((1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    assert all(math.isnan(v) for v in metrics.retrieval_metrics(["a"], []).values())


def test_doc_type_f1():
    assert metrics.doc_type_f1(["education"], ["education", "cv"]) == 1.0
    assert metrics.doc_type_f1(["education", "papers"], ["papers"]) == pytest.approx(2 / 3)
    assert metrics.doc_type_f1([], ["papers"]) == 0.0
    assert math.isnan(metrics.doc_type_f1(["papers"], []))


def test_answer_checks():
    assert metrics.html_safe('See <a href="/papers">Papers</a> &lt;b&gt;')
    assert not metrics.html_safe('<a href="/x" onclick="y">x</a>')
    assert not metrics.html_safe("<script>alert(1)</script>")
    assert metrics.says_unknown("My site doesn't say that.") and metrics.says_unknown("그 내용은 제 사이트에 나와 있지 않아요.")
    assert not metrics.says_unknown("I studied at KAIST.")
    assert metrics.language_match("지도교수는 Prof. Moon 입니다", "ko")
    assert not metrics.language_match("Prof. Moon", "ko")


def test_question_score_weights_only_what_applies():
    row = {"recall@5": 1.0, "relevance_correct": 0.0, "says_unknown": float("nan")}
    w = metrics.SCORE_WEIGHTS
    assert metrics.question_score(row) == pytest.approx(w["recall@5"] / (w["recall@5"] + w["relevance_correct"]))
    assert math.isnan(metrics.question_score({}))
