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


def test_chat_consistency_holds_the_chat_answer_against_the_same_question_alone():
    from types import SimpleNamespace

    case = SimpleNamespace(context_ids=["edu.md#bs", "awards.md#capstone"], question="Where did she do her bachelor's?",
                           reference_answer="A B.S. at Hanbit University, 2019.", language="en")
    alone = {"alone_top": "edu.md#bs", "alone_answer_text": "B.S., Hanbit University — 2019", "alone_declined": False}

    def chat(top, text, declined=False):
        return {"retrieved_ids": [top] if top else [], "answer_text": text, "declined": declined, **alone}

    assert metrics.chat_consistency(case, chat("edu.md#bs", "B.S., Hanbit University — 2019")) == 1.0
    # the previous topic's entry instead of the asked one: the carry-over bug this metric exists for
    assert metrics.chat_consistency(case, chat("awards.md#best-paper", "Best Paper Award, 2023")) == 0.0
    # another reference entry is no worse, unless it states fewer of the reference's facts
    assert metrics.chat_consistency(case, chat("awards.md#capstone", "Capstone prize of my B.S. at Hanbit University, 2019")) == 1.0
    assert metrics.chat_consistency(case, chat("edu.md#bs", "B.S. (see the CV)")) == 0.0
    assert metrics.chat_consistency(case, chat("", "Sorry, I can only answer…", declined=True)) == 0.0
