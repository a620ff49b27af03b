"""Glossary candidates from titles that name a thing in both scripts."""

from pipeline.lang import load_knowledge
from pipeline.site_glossary import draft_glossary, pairs


def test_a_name_and_its_other_script_in_parentheses_pair_up_either_way():
    found = pairs(["느린 기술 (Slow Tech)", "Orot  Hub (오롯 허브): a controller", "Haru Label", "2023 (서울)"])
    assert found == {"느린 기술": "Slow Tech", "오롯 허브": "Orot Hub"}


def test_the_draft_glosses_both_ways_and_leaves_out_menu_labels_and_what_the_packs_know():
    knowledge = load_knowledge({})
    drafted = draft_glossary(["느린 기술 (Slow Tech)", "소개 (About)", "석사 (Master)", "이력서 (CV)"], knowledge)
    assert drafted == {"ko": {"glossary": {"느린 기술": "Slow Tech"}}, "en": {"glossary": {"slow tech": "느린 기술"}}}
    # what it drafts is a valid pack override: the packs accept it, and a question in the other script finds it
    amended = load_knowledge(drafted)
    assert "느린 기술" in amended.expand("What is Slow Tech?") and "Slow Tech" in amended.expand("느린 기술이 뭐예요?")
    assert draft_glossary(["Plain English title"], knowledge) == {}
