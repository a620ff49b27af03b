"""The signal planner's cheap, bilingual decisions: glossary and section cues."""

from pipeline.planner import PlannerParams, SignalPlanner


def planner(hash_embedder, **params) -> SignalPlanner:
    return SignalPlanner(hash_embedder, PlannerParams(**params))


def test_glossary_expands_korean_anywhere_and_english_as_whole_words(hash_embedder):
    p = planner(hash_embedder, glossary={"석사": "M.S.", "master's": "M.S.", "undergrad": "B.S."})
    assert p.expand("석사는 어디서 했어?") == "석사는 어디서 했어? (M.S.)"  # a particle is attached
    assert p.expand("Where did you do your Master's?") == "Where did you do your Master's? (M.S.)"
    assert p.expand("Any undergraduate courses?") == "Any undergraduate courses?"  # "undergrad" is not a word here
    assert p.expand("Where do you live?") == "Where do you live?"


def test_section_cues_read_only_the_text_they_are_given(hash_embedder):
    p = planner(hash_embedder)
    assert p.doc_types_for("Are you on the job market?") == ["experience", "about"]
    assert p.doc_types_for("How many people took part in the field study?") == []
    assert "education" in p.doc_types_for("Dasom, which I studied in a field study")
