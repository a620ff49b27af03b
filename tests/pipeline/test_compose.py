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


def test_a_line_holding_the_asked_kind_of_value_states_it_without_a_label():
    composer = Composer(default_knowledge())
    logistics = [_hit("c.md#logistics", "Logistics", "Lectures: Tuesdays and Thursdays, 10:15, Kittelsen Hall 204\n"
                      "Office hours by appointment.", 0.9, "teaching")]
    stated = composer.facts("When and where are the lectures held?", "lectures held", logistics, 300)
    assert not stated.fields_missing and "Kittelsen Hall" in stated.lines[0]
    ko = [_hit("t.md#talk", "혼자 사는 어르신을 위한 기술", "2023년 3월 DDP 디자인랩 세미나실에서 발표했습니다.", 0.9, "talks")]
    assert not composer.facts("그 강연은 언제 했어요?", "강연", ko, 300).fields_missing
    unstated = composer.facts("Who was your advisor?", "advisor", logistics, 300)
    assert unstated.fields_missing  # an advisor has no shape: only a labelled line states one


def test_a_quoted_line_that_names_what_the_question_names_is_no_near_miss():
    composer = Composer(default_knowledge())
    course = [_hit("t.md#cs-3750", "CS 3750: Introduction to HCI",
                   "I was a teaching assistant for CS 3750 in Spring 2020.", 0.9, "teaching")]
    question = "What did you do as a TA for CS 3750?"
    assert composer.facts(question, question, course, 300).fields_missing  # no `Role:` line
    assert not composer.facts(question, question, course, 300, named=frozenset({"3750"})).fields_missing


def test_a_compound_question_gets_the_line_holding_both_parts_first():
    composer = Composer(default_knowledge())
    talk = [_hit("t.md#talk", "Haptic maps for everyone", "I gave this talk to about 40 people.\n"
                 "Slides are online since 2023.\nIt was recorded at the university.\n"
                 "Given in March 2023 at Hadley Hall, Calloway University.", 0.9, "talks")]
    facts = composer.facts("When and where did you give the haptic maps talk?", "haptic maps talk", talk, 300,
                           lines_top=1)
    assert "Hadley Hall" in facts.lines[0] and "March 2023" in facts.lines[0] and not facts.fields_missing


def test_a_list_question_with_a_named_qualifier_lists_only_the_entries_holding_the_name():
    composer = Composer(default_knowledge())
    awards = [_hit("a.md#best", "Best Paper Award, CHI 2023", "For the TACTIMO paper.", 0.9, "awards"),
              _hit("a.md#travel", "Travel Grant, ISCA 2024", "A student travel grant.", 0.85, "awards"),
              _hit("a.md#capstone", "Capstone Prize", "For the SignBridge app.", 0.8, "awards")]
    question = "What awards did the TACTIMO work win?"
    every = composer.facts(question, question, awards, 400)
    named = composer.facts(question, question, awards, 400, named=frozenset({"tactimo"}))
    assert len(every.lines) == 3 and [line.split(" — ")[0] for line in named.lines] == ["Best Paper Award, CHI 2023"]


def test_the_packs_words_with_a_dot_do_not_end_a_sentence_either():
    from pipeline.lang import default_knowledge

    line = "A study with approx. Forty participants. Then more."
    assert sentences(line) == ["A study with approx.", "Forty participants.", "Then more."]  # no pack: cut there
    assert sentences(line, default_knowledge().abbreviations) == ["A study with approx. Forty participants.",
                                                                  "Then more."]
