from pipeline.lang import default_knowledge
from pipeline.names import LazyNames, SiteNames
from pipeline.providers.base import Chunk, Hit, ProviderError
from pipeline.stages.retrieve import Retrieve

ENTRIES = [
    ("SonoGlance: Audio Previews of Data Charts", "A browser extension; 18 participants took part in the study."),
    ("The paper", "SonoGlance got an honorable mention; two study participants came to the talk."),
    ("Hardware Prototyping", "TACTIMO went through five hardware revisions."),
    ("TACTIMO: Haptic Emotion Cues", "A wristband for video calls (2021)."),
    ("Visiting Researcher, Aalto University", "Period: 2024. Worked on speech."),
    ("Travel Grant, Interspeech 2024", "A student travel grant."),
    ("Ada Example", "I am Ada Example."),
    ("버스벨: 시각장애인을 위한 버스 알림 앱", "해커톤에서 만든 앱입니다."),
    ("수상", "버스벨로 해커톤 대상을 받았습니다."),
]


def names(**kw):
    return SiteNames(ENTRIES, ignore=default_knowledge().stopwords | {"ada", "example"}, **kw)


def test_a_name_is_a_title_word_the_site_never_writes_in_lower_case():
    found = names().names
    assert {"sonoglance", "tactimo", "aalto", "interspeech"} <= found
    # written in lower case somewhere ("hardware revisions", "the study"): a kind of thing, not one entry
    assert "hardware" not in found and "study" not in found
    assert "2024" not in found  # a year names no entry
    assert "ada" not in found  # the owner's own name is on every entry


def test_a_word_in_many_titles_is_a_kind_of_entry():
    many = [(f"Teaching Assistant, Course {i}", "Graded homework.") for i in range(60)]
    assert "teaching" not in SiteNames(many + ENTRIES).names
    assert "sonoglance" in SiteNames(many + ENTRIES).names


def test_a_korean_name_is_found_with_its_particle_attached():
    n = names()
    assert n.named("버스벨로 상을 받았어요?") == {"버스벨"}
    assert n.named("How many people took part in the SonoGlance study?") == {"sonoglance"}
    assert not n.named("What did she study in 2024?")


def test_the_entry_a_question_names_leads_before_one_that_mentions_it_in_passing():
    hits = [Hit(Chunk(f"c{i}", "x.md", "other", t, "", text), 1.0 - i / 10) for i, (t, text) in enumerate(ENTRIES)]
    retrieve = Retrieve(store=None, knowledge=default_knowledge())
    question = "How many participants were in the SonoGlance study?"
    ranked = retrieve.answering_first(hits[1:2] + hits[0:1], question, names().named(question), question)
    assert ranked[0].chunk.title.startswith("SonoGlance")
    # the entry that holds the rest of the question still comes before the one the name only titles
    question = "How many hardware revisions did the TACTIMO wristband go through?"
    ranked = retrieve.answering_first([hits[3], hits[2]], question, names().named(question), question)
    assert ranked[0].chunk.title == "Hardware Prototyping"
    # no name: retrieval's own order
    assert retrieve.answering_first(hits[1:3], "Tell me more", frozenset()) == hits[1:3]


def test_a_store_that_cannot_list_its_chunks_names_nothing():
    def failing():
        raise ProviderError("listing timed out")

    assert LazyNames(failing).get().named("SonoGlance") == frozenset()
