"""The language packs: validated data, merged, general (no demo entities), hashed."""

import re

import pytest

from pipeline.lang import LANG_DIR, LanguagePackError, default_knowledge, load_knowledge, read_pack
from tests.conftest import DEMO_CORPUS


def test_every_pack_validates_and_english_is_the_fallback():
    knowledge = load_knowledge()
    assert {"en", "ko"} <= set(knowledge.packs)
    assert knowledge.replies("fr") is knowledge.replies("en")


def test_a_broken_pack_is_an_error_naming_the_file_and_field(tmp_path):
    bad = (LANG_DIR / "en.yaml").read_text().replace("follow_up_patterns:\n", "follow_up_patterns:\n  - \"(unclosed\"\n", 1)
    (tmp_path / "en.yaml").write_text(bad)
    with pytest.raises(LanguagePackError, match=r"en.yaml: follow_up_patterns"):
        read_pack(tmp_path / "en.yaml")


def test_glossary_expands_korean_anywhere_and_english_as_whole_words():
    k = load_knowledge({"en": {"glossary": {"undergrad": "B.S."}}})
    assert "M.S." in k.expand("석사는 어디서 했어?")  # a particle is attached
    assert "M.S." in k.expand("Where did you do your Master's?") and "석사" in k.expand("Where did you do your master's?")
    assert k.expand("Any undergraduate courses?") == "Any undergraduate courses? (B.S.)"  # its own entry
    assert k.expand("Do you like cats?") == "Do you like cats?"
    assert k.expand("Where do you live?", hangul=False) == "Where do you live?"  # what is embedded


def test_every_word_list_matches_as_its_entry_says_not_as_its_list_is_named():
    k = load_knowledge({"en": {"glossary": {"alum*": "alumni", "cat": "feline"},
                               "section_cues": {"teaching": ["lectur*", "ta"]}}})
    # a glossary entry marked as a prefix matches the words it starts; before, "graduat" never matched
    assert "졸업" in k.expand("When did you graduate?") and "alumni" in k.expand("Is she an alumna?")
    assert "feline" not in k.expand("Any catalogues?")  # unmarked: the whole word only
    assert k.doc_types_for("Which lectures?") == ["teaching"] and "teaching" not in k.doc_types_for("a tab")
    assert "teaching" in k.doc_types_for("Was he a TA?")
    assert k.time_now.search("what now?") and not k.time_now.search("nowhere")


@pytest.mark.parametrize("entry", ["", "*", "gra*d*"])
def test_an_entry_that_does_not_say_how_it_matches_is_refused(tmp_path, entry):
    bad = (LANG_DIR / "en.yaml").read_text().replace("glossary:\n", f"glossary:\n  \"{entry}\": x\n", 1)
    (tmp_path / "en.yaml").write_text(bad)
    with pytest.raises(LanguagePackError, match="en.yaml: glossary"):
        read_pack(tmp_path / "en.yaml")


def test_a_key_written_twice_is_an_error_not_the_last_one_silently(tmp_path):
    text = (LANG_DIR / "en.yaml").read_text().replace("glossary:\n", "glossary:\n  phd: x\n", 1)
    (tmp_path / "en.yaml").write_text(text)
    with pytest.raises(LanguagePackError, match=r"'phd' is written twice \(lines \d+ and \d+\)"):
        read_pack(tmp_path / "en.yaml")


def test_section_cues_read_only_the_text_they_are_given():
    k = default_knowledge()
    assert "about" in k.doc_types_for("Are you on the job market?")
    assert k.doc_types_for("How many people took part in the field study?") == []


@pytest.mark.parametrize("message, refers, switches", [
    ("Who built it?", True, False), ("그 프로젝트는 언제 했어요?", True, False),
    ("And for your master's?", False, True), ("그럼 석사는요?", False, True),
    ("What are you working on these days?", False, False),  # a time phrase, not a reference
    ("Where did you do your bachelor's?", False, False),
])
def test_follow_up_cues(message, refers, switches):
    k = default_knowledge()
    assert (k.refers_back(message), k.switches_subject(message)) == (refers, switches)


def test_fields_and_time_words_in_both_languages():
    k = default_knowledge()
    assert k.asked_fields("Who is your Ph.D. advisor?") == ["advisor"]
    assert k.field_of("**Advisor**: Prof. X".replace("*", "")) == "advisor" and k.field_of("- 기간: 2021 – 현재") == "period"
    assert k.asks_now("요즘 뭐 하세요?") and k.asks_now("What do you do currently?") and not k.asks_now("Who is he?")
    assert k.current_markers.search("Mar. 2022 – Present") and not k.current_markers.search("I presented it")


def test_the_packs_name_no_entity_of_the_demo_corpus():
    """General language knowledge only: tuned for behaviour, never for the demo's people and places."""
    text = " ".join(p.read_text(encoding="utf-8") for p in DEMO_CORPUS.glob("*.md"))
    names = set(re.findall(r"\b[A-Z][a-z]{3,}(?:-\d+)?\b", text)) | set(re.findall(r"\b[A-Z]{4,}\b", text))
    common = {"Present", "Korea", "English", "Korean", "Python", "Computer", "Science", "University", "Institute",
              "Education", "Experience", "Projects", "Papers", "Awards", "Skills", "Teaching", "About", "Contact",
              "Apple", "France", "Spanish", "Linux", "World", "Thanks", "Thank", "Hello", "Good", "What", "When",
              "Where", "Which", "Write", "Give", "Tell", "Explain", "Solve", "Translate", "Summarize", "Recommend",
              "Ignore", "Reveal", "Forget", "Output", "Pretend", "Include", "Admin", "Perfect", "Cool", "Great",
              "That", "This", "Introduce", "Who", "Bye", "Here", "More", "Sorry", "Please", "Sure", "Period",
              "Date", "Location", "Organization", "Institution", "Advisor", "Authors", "Role", "Type", "Venue"}
    packs = " ".join(p.read_text(encoding="utf-8") for p in LANG_DIR.glob("*.yaml"))
    leaked = sorted(n for n in names - common if re.search(rf"\b{re.escape(n)}\b", packs))
    assert leaked == []
    assert "알토" not in packs and "서하늘" not in packs


def test_the_committed_program_was_saved_against_todays_packs():
    """Saved programs record the packs' fingerprint: change a pack, re-run `make optimize`."""
    import json

    from pipeline.settings import DEFAULT_PROGRAM

    saved = json.loads(DEFAULT_PROGRAM.read_text())["workbench_params"]
    assert saved["lang_fingerprint"] == default_knowledge().fingerprint


@pytest.mark.parametrize("message, refers", [
    ("What did she do at Acme Labs?", False),  # she/her/he/him name the owner, not the previous topic
    ("Where did he do his bachelor's?", False),
    ("그녀가 가르친 과목은 뭐예요?", False),
    ("이분은 어디서 일하세요?", False),
    ("When was it?", True),
    ("Who else worked on that?", True),
    ("그때 뭐 하셨어요?", True),
])
def test_pronouns_for_the_owner_do_not_refer_back(message, refers):
    assert default_knowledge().refers_back(message) is refers
