import pytest

from pipeline.persona import SiteLink
from pipeline.render import clip, render_answer, section_label

SITE = [SiteLink(label="Education", href="/cv/education"), SiteLink(label="Papers", href="/papers")]


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>See Education",
        '<img src=x onerror="alert(1)"> See Education',
        "See [Education](https://evil.example/phish) and [click](javascript:alert(1))",
        "See Education <a href='https://evil.example'>here</a>",
        '"><svg onload=alert(1)> Education',
    ],
)
def test_lm_markup_never_survives(hostile):
    html = render_answer(hostile, SITE, 500)
    assert "<script" not in html and "<img" not in html and "<svg" not in html
    assert "evil.example" not in html and "javascript:" not in html
    # the only tags left are our own anchors
    assert html.count("<") == html.count('<a href="') + html.count("</a>")
    assert '<a href="/cv/education">Education</a>' in html


def test_only_exact_labels_are_linked_once():
    html = render_answer("Education, education, Educational, Papers and Education again", SITE, 500)
    assert html.count('<a href="/cv/education">') == 1
    assert html.count('<a href="/papers">Papers</a>') == 1
    assert "education, Educational" in html


def test_special_characters_are_escaped():
    assert render_answer('R&D "quoted" <b>', [], 500) == "R&amp;D &quot;quoted&quot;"


def test_clip_respects_the_limit_at_boundaries():
    text = "First sentence. " * 50
    out = clip(text, 100)
    assert len(out) <= 100 and out.endswith(".")
    assert render_answer("x" * 900, [], limit=500).__len__() <= 500


def test_section_label_matches_doc_types():
    assert section_label("papers", SITE) == "Papers"
    assert section_label("education", SITE) == "Education"
    assert section_label("awards", SITE) is None


def test_lm_leads_are_kept_only_when_they_frame_without_inventing():
    from pipeline.stages.generate import safe_lead

    facts = ["Ph.D. in Computer Science — Advisor: Prof. Junho Moon; Period: 2022 – Present"]
    question = "Who is your advisor?"
    assert safe_lead("My Ph.D. advisor is Prof. Junho Moon.", facts, question) == "My Ph.D. advisor is Prof. Junho Moon."
    for bad in [
        "{lead}",
        "## question ##",
        "My advisor was Prof. Kim Lee since 2019.",  # invented name and year
        "Ph.D. in Computer Science — Advisor: Prof. Junho Moon",  # a copied fact line
        "demo-demo-demo demo demo demo demo",
        "The best way to reach me is listed on the Profile page.",  # not first person, invented page
    ]:
        assert safe_lead(bad, facts, question) is None, bad


def test_markdown_links_with_parentheses_in_the_url_keep_only_their_text():
    from pipeline.render import to_plain_text

    assert to_plain_text("See [click](javascript:alert(1)) and [Go](https://x.org/Go_(game)).") == "See click and Go."


def test_a_site_map_href_that_is_not_allowed_is_never_linked():
    # persona.yaml is validated on load; this is the second fence, for a site map built any other way
    hostile = [SiteLink.model_construct(label="Education", href="javascript:alert(1)"),
               SiteLink.model_construct(label="Papers", href="//evil.example"),
               SiteLink.model_construct(label="About", href="/about")]
    html = render_answer("See Education, Papers and About", hostile, 500)
    assert html == 'See Education, Papers and <a href="/about">About</a>'
