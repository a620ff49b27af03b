"""A site's own section names as cues: what they add, and a program that serves them."""

from pipeline.lang import load_knowledge
from pipeline.params import ProgramParams
from pipeline.persona import Persona
from pipeline.program import DigitalTwin
from pipeline.providers.base import LMCapabilities
from pipeline.site_cues import site_section_cues, site_section_names, stem

KNOWLEDGE = load_knowledge({})
SITE = ["publications", "talks", "posts", "news", "exhibitions", "cv", "about", "projects", "_drafts"]


def cues(inherit=False):
    return {code: o["section_cues"] for code, o in site_section_cues(SITE, KNOWLEDGE, inherit).items()}


def test_each_new_doc_type_is_cued_by_its_own_word_and_its_korean_glosses():
    en, ko = cues()["en"], cues()["ko"]
    assert en["talks"] == ["talk*"] and en["exhibitions"] == ["exhibition*"]
    assert "전시" in ko["exhibitions"] and "강연" in ko["talks"]  # the glossary's Korean words for it
    # kinds the packs already name, pages of every kind, and names that are not words get none
    assert not {"projects", "cv", "about", "_drafts"} & set(en)
    # a stem that starts another cue word stays whole ("post" would catch "poster"), short ones too
    assert en["posts"] == ["posts*"] and en["news"] == ["news*"]
    assert stem("talks", frozenset()) == "talk" and stem("galleries", frozenset()) == "galler"
    assert stem("classes", frozenset()) == "class" and stem("press", frozenset()) == "press"  # not "pres": present
    assert stem("campus", frozenset()) == "campus" and stem("thesis", frozenset()) == "thesis"


def test_a_sites_only_name_for_a_pack_section_inherits_its_cues_but_never_the_catch_all():
    plain, inherited = cues()["en"], cues(inherit=True)["en"]
    assert plain["publications"] == ["publication*"]
    assert {"paper*", "journal*"} <= set(inherited["publications"])  # the site calls its papers publications
    assert "논문" in cues(inherit=True)["ko"]["publications"]
    assert inherited["talks"] == ["talk*"]  # "other" holds clubs and podcasts too: it says nothing of talks
    # a site that has the pack's own section keeps the cues there
    both = site_section_cues(["papers", "publications"], KNOWLEDGE, inherit=True)
    assert both["en"]["section_cues"]["publications"] == ["publication*"]
    assert site_section_cues(["papers", "awards"], KNOWLEDGE) == {}


def test_a_program_with_the_cues_plans_the_sites_section_and_the_original_is_untouched(mini_index, hash_embedder):
    program = DigitalTwin(mini_index, hash_embedder, Persona(name="Mina Park"), LMCapabilities(), ProgramParams(),
                          doc_types=["talks", "education"])
    overrides = site_section_cues(program.doc_types, program.knowledge)
    cued = program.with_params(program.params.model_copy(update={"lang_overrides": overrides}))
    # every program cues the site's sections by their own word; the candidate adds the Korean ones
    assert "talks" in program.knowledge.doc_types_for("Which talks did she give?")
    assert "talks" not in program.knowledge.doc_types_for("어떤 강연을 했어요?")
    assert "talks" in cued.knowledge.doc_types_for("어떤 강연을 했어요?")
    # the site's own words are not pack content: a program saved on one site loads on another unwarned
    assert program.knowledge.fingerprint == load_knowledge({}).fingerprint
    # the copy's parameters are its own
    assert cued.params.lang_overrides == overrides and program.params.lang_overrides == {}


def test_the_sites_own_names_leave_the_packs_sections_and_whole_cv_pages_alone():
    assert site_section_names(SITE, KNOWLEDGE) == {"publications": ["publication*"], "talks": ["talk*"],
                                                   "posts": ["posts*"], "news": ["news*"],
                                                   "exhibitions": ["exhibition*"]}
    # a knowledge that already cues them still finds them new: the packs decide what is known
    cued = KNOWLEDGE.with_site_sections(site_section_names(SITE, KNOWLEDGE))
    assert site_section_names(SITE, cued) == site_section_names(SITE, KNOWLEDGE)
    assert "post" in cued.cue_words and "post" not in KNOWLEDGE.cue_words  # a kind of entry, never a name
