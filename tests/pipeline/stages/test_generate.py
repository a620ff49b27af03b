"""Generate on its own: `Query` + `Plan` + `Retrieval` → (text, kind), in the visitor's language."""

import dspy
import pytest

from pipeline.params import ProgramParams
from pipeline.providers.base import Chunk, Hit
from pipeline.render import render_answer
from pipeline.text import detect_language
from pipeline.turn import Plan, Retrieval, Trace
from tests.fakes import ScriptedEngine
from tests.pipeline.stages.twin import CAPABLE
from tests.pipeline.stages.twin import twin as make_twin

# the local LM's framing sentence is off: these tests read the extractive answer itself
NO_LEAD = ProgramParams(lead_from_lm=False)
ON_TOPIC = Plan(relevant=True, needs_retrieval=True, doc_types=[], k=5, label="owner")


def twin(store, embedder, capabilities=None, params=NO_LEAD):
    return make_twin(store, embedder, capabilities, params)


def hits(store, *anchors, score=0.9):
    chunks = {c.anchor: c for c in store.chunks()}
    return [Hit(chunks[a], score) for a in anchors]


def generate(program, message, found, best=0.9, plan=ON_TOPIC, engine=None):
    """The stage as `DigitalTwin._answer` calls it: the rewritten query, the plan, what was retrieved."""
    params = program.params
    query = program.rewrite(message, [], params, Trace())
    retrieval = Retrieval(search_query=query.search_text, hits=found, best=best, mode="hybrid")
    trace = Trace()
    if engine is None:
        return (*program.generate(query, plan, retrieval, params, trace), trace)
    with dspy.context(lm=dspy.LM("fake/model", engine=engine, cache=False, num_retries=0),
                      adapter=dspy.JSONAdapter()):
        return (*program.generate(query, plan, retrieval, params, trace), trace)


@pytest.mark.parametrize("message, language", [
    ("Where did you study robotics?", "en"),
    ("로봇공학은 어디서 공부했어요?", "ko"),
])
def test_the_answer_is_framed_in_the_visitors_language_and_quotes_the_site(mini_index, hash_embedder,
                                                                            message, language):
    program = twin(mini_index, hash_embedder)
    text, kind, _ = generate(program, message, hits(mini_index, "ms-in-robotics", "bs-in-physics"))
    assert kind == "extractive"
    lines = text.splitlines()
    assert detect_language(lines[0]) == language and detect_language(lines[-1]) == language
    assert "Education" in lines[-1]  # the section the best passage is on, by its site-map label
    assert any(line.startswith("• ") and "Zephyr Institute" in line for line in lines)  # quoted as written
    if language == "ko":
        assert "영어" in lines[0]  # the Korean visitor is told the site is written in English


def test_a_declined_plan_gets_the_packs_decline_whatever_was_retrieved(mini_index, hash_embedder):
    program = twin(mini_index, hash_embedder, CAPABLE)
    declined = Plan(relevant=False, needs_retrieval=False, doc_types=[], k=5, label="off_topic")
    engine = ScriptedEngine({"answer": "I studied at Zephyr Institute."})
    for message, language in (("Draft a cover letter for me.", "en"), ("다음 주 여행 일정 좀 짜 줘", "ko")):
        text, kind, trace = generate(program, message, hits(mini_index, "ms-in-robotics"), plan=declined,
                                     engine=engine)
        assert (text, kind) == (program.replies.say("decline", language), "fixed")
        assert detect_language(text) == language and program.replies.name(language) in text
        assert "Zephyr" not in text and trace.lm_calls == 0
    assert engine.requests == []


def test_an_on_topic_question_the_passages_do_not_answer_is_not_found(mini_index, hash_embedder):
    program = twin(mini_index, hash_embedder)
    nothing, kind, _ = generate(program, "로봇공학은 어디서 공부했어요?", [], best=0.0)
    assert (nothing, kind) == (program.replies.say("not_found", "ko"), "not_found")
    # a passage was retrieved, but it shares no word with the question and is not close in meaning
    unrelated, kind, _ = generate(program, "What's your favourite colour?", hits(mini_index, "bs-in-physics"),
                                  best=0.5)
    assert kind == "not_found" and "Lumen" not in unrelated and "Physics" not in unrelated


def test_a_personal_fact_no_passage_mentions_is_not_found_however_close_the_passages(mini_index, hash_embedder):
    program = twin(mini_index, hash_embedder)
    education = hits(mini_index, "ms-in-robotics", "bs-in-physics", score=0.99)
    text, kind, _ = generate(program, "How old are you?", education, best=0.99)
    assert kind == "not_found" and "Zephyr" not in text
    contact = [Hit(Chunk("about.md#contact", "about.md", "about", "Contact", "contact",
                         "Phone: +82 10 1234 5678\nEmail: mina@example.org"), 0.8)]
    text, kind, _ = generate(program, "What is your phone number?", contact, best=0.8)
    assert kind == "extractive" and "+82 10 1234 5678" in text


def test_markup_in_a_passage_never_reaches_the_page_as_markup(mini_index, hash_embedder):
    program = twin(mini_index, hash_embedder)
    hostile = Chunk("education.md#ms", "education.md", "education", "M.S. in Robotics", "ms",
                    "Studied robotics at Zephyr Institute <script>alert('x')</script> in the R&D lab.")
    text, kind, _ = generate(program, "Where did you study robotics?", [Hit(hostile, 0.9)])
    assert kind == "extractive" and "Zephyr Institute" in text
    page = render_answer(text, program.persona.site_map, program.params.max_answer_chars)  # as the program renders
    assert "<script" not in page and "R&amp;D" in page and "Zephyr Institute" in page
    assert page.count("<a ") == 1 and '<a href="/cv/education">Education</a>' in page  # the site map's only


def test_a_capable_lm_writes_the_answer_and_a_blank_one_falls_back_to_quoting(mini_index, hash_embedder):
    program = twin(mini_index, hash_embedder, CAPABLE)
    found = hits(mini_index, "ms-in-robotics")
    written = ScriptedEngine({"answer": "  I studied robotics at Zephyr Institute (see Education).  "})
    text, kind, trace = generate(program, "Where did you study robotics?", found, engine=written)
    assert (text, kind) == ("I studied robotics at Zephyr Institute (see Education).", "lm")
    assert trace.lm_calls == 1
    blank = ScriptedEngine({"answer": "   "})
    text, kind, _ = generate(program, "Where did you study robotics?", found, engine=blank)
    assert kind == "extractive" and "Zephyr Institute" in text and blank.requests


def test_a_framing_sentence_that_invents_a_fact_is_dropped(mini_index, hash_embedder):
    program = twin(mini_index, hash_embedder, params=ProgramParams(lead_from_lm=True))
    found = hits(mini_index, "ms-in-robotics")
    honest = ScriptedEngine({"lead": "I studied robotics at Zephyr Institute."})
    text, _, _ = generate(program, "Where did you study robotics?", found, engine=honest)
    assert text.splitlines()[0] == "I studied robotics at Zephyr Institute."
    invented = ScriptedEngine({"lead": "I studied robotics at Zephyr Institute in 1999."})  # no 1999 on the site
    text, _, _ = generate(program, "Where did you study robotics?", found, engine=invented)
    assert text.splitlines()[0] == program.replies.say("found", "en") and "1999" not in text
