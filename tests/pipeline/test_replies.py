"""Fixed replies: what the twin says it can answer comes from the site map, minus the packs' pages of everything."""

from pipeline.lang import default_knowledge
from pipeline.persona import Persona, SiteLink
from pipeline.replies import MAX_TOPICS, Replies


def replies_for(*labels: str) -> Replies:
    links = [SiteLink(label=label, href=f"/{i}") for i, label in enumerate(labels)]
    return Replies(default_knowledge(), Persona(name="Mina Park", site_map=links))


def test_topics_are_the_sites_sections_without_the_pages_of_everything_in_either_language():
    assert replies_for("About", "Papers", "CV", "이력서", "Projects", "홈").topics("en") == "Papers and Projects"
    assert replies_for("Home", "Talks").topics("en") == "Talks"


def test_without_sections_of_its_own_the_pack_says_what_it_covers():
    knowledge = default_knowledge()
    assert replies_for("About", "소개").topics("ko") == knowledge.replies("ko").topics_default
    assert len(replies_for(*[f"Section {i}" for i in range(10)]).topics("en").split(", ")) == MAX_TOPICS - 1
