"""Extractive answers: the asked fact first, whole lines, lists in the visitor's language first."""

from pipeline.compose import Composer, sentences
from pipeline.lang import default_knowledge
from pipeline.providers.base import Chunk, Hit


def _hit(cid, title, text, score, doc_type="papers"):
    return Hit(Chunk(cid, cid.split("#")[0], doc_type, title, cid.split("#")[1], text), score)


def test_abbreviations_and_dates_do_not_end_a_sentence():
    assert sentences("Advised by Prof. Moon since Mar. 2022 in the Ph.D. program. Then more.") == [
        "Advised by Prof. Moon since Mar. 2022 in the Ph.D. program.", "Then more."]


def test_a_list_for_an_english_visitor_opens_with_the_english_entries():
    hits = [_hit("p.md#ko", "청각장애인의 화상회의 경험 연구", "- 저자: 서하늘", 0.9),
            _hit("p.md#en1", "Emotion-Aware Response Timing", "Venue: CHI 2024", 0.8),
            _hit("p.md#en2", "Persona Drift in Companions", "Venue: arXiv", 0.7)]
    composer = Composer(default_knowledge())
    english = composer.facts("What papers have you published?", "papers published", hits, 360)
    assert english.lines[0].startswith("Emotion-Aware") and english.lines[-1].startswith("청각장애인")
    korean = composer.facts("어떤 논문을 발표했어요?", "논문 발표", hits, 360)
    assert korean.lines[0].startswith("청각장애인")
