"""One reader per format: what each makes of a file, on small inputs written here."""

from pathlib import Path

import pytest

from pipeline.corpus.model import Document
from pipeline.corpus.readers import read
from pipeline.corpus.text import has_template_syntax


def doc(tmp_path: Path, name: str, text: str) -> tuple[str, Document]:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text, Document(path=path, source=name, doc_type="t", title="Fallback")


def entries(tmp_path, name, text):
    _, page, problems = read(*doc(tmp_path, name, text))
    return page, {e.title or page.title: e.text for e in page.entries}, problems


def test_markdown_setext_and_atx_headings_both_cut_entries(tmp_path):
    page, got, _ = entries(tmp_path, "cv.md", "---\ntitle: CV\n---\nEducation\n=========\n\n* PhD, 2020\n\n"
                                              "Work\n----\nIntern at Acme\n\n### Awards\nBest paper\n")
    assert got == {"Education": "- PhD, 2020", "Work": "Intern at Acme", "Awards": "Best paper"}
    assert [e.context for e in page.entries] == [[], ["Education"], ["Education", "Work"]]


def test_markdown_soft_breaks_keep_field_lines_and_join_wrapped_prose(tmp_path):
    _, got, _ = entries(tmp_path, "p.md", "## Job\nAdvisor: Prof. Kim\nPeriod: 2019\n\nA long sentence wrapped\n"
                                          "in the source file.\n")
    assert got["Job"] == "Advisor: Prof. Kim\nPeriod: 2019\nA long sentence wrapped in the source file."


def test_markdown_tables_become_header_value_lines(tmp_path):
    _, got, _ = entries(tmp_path, "t.md", "## 경력\n| 기간 | 기관 | 역할 |\n|---|---|---|\n| 2019–2021 | 소담 | 연구원 |\n")
    assert got["경력"] == "기간: 2019–2021; 기관: 소담; 역할: 연구원"


def test_template_syntax_comments_and_code_never_reach_the_text(tmp_path):
    body = ("---\ntitle: P\nlayout: page\n---\n{% include base_path %}\nIntro {{ site.title }} text.\n"
            "<!--more-->\n{{< figure src=\"a.png\" caption=\"x\" >}}\n{{% callout note %}}Kept inside.{{% /callout %}}\n"
            "{% for p in site.publications %}{{ p.title }}{% endfor %}\n<!-- hidden note -->\n"
            "```python\nprint('code')\n```\n<div class=\"x\"><p>Raw <b>HTML</b> text</p><script>alert(1)</script></div>\n")
    page, got, _ = entries(tmp_path, "p.md", body)
    text = "\n".join(got.values())
    assert "Kept inside." in text and "Raw HTML text" in text and "Intro text." in text
    assert not has_template_syntax(text)
    for gone in ("hidden note", "print(", "alert", "layout", "figure"):
        assert gone not in text


@pytest.mark.parametrize("opening, closing, body", [
    ("---", "---", "title: Talk\nvenue: Hall A\ndate: 2024-05-01\nlayout: talk\npermalink: /talks/x/\n"),
    ("+++", "+++", "title = 'Talk'\nvenue = 'Hall A'\ndate = 2024-05-01\nlayout = 'talk'\n"),
])
def test_front_matter_is_the_record_in_yaml_or_toml(tmp_path, opening, closing, body):
    page, got, _ = entries(tmp_path, "talk.md", f"{opening}\n{body}{closing}\n")
    assert page.title == "Talk"
    assert got["Talk"] == "Venue: Hall A\nDate: 2024-05-01"


def test_json_front_matter_and_a_draft(tmp_path):
    page, got, _ = entries(tmp_path, "now.md", '{\n"title": "Now",\n"summary": "Writing a book",\n"draft": true\n}\n'
                                               "Body text.\n")
    assert got["Now"] == "Summary: Writing a book\nBody text."
    assert "draft" in page.unpublished


def test_html_page_needs_front_matter_and_is_read_as_text(tmp_path):
    page, got, _ = entries(tmp_path, "p.html", "---\ntitle: Kit\n---\n<h2>Funding</h2><p>Grant <em>G-1</em>.</p>"
                                               "<ul><li>Team of 5</li></ul><style>p{}</style>")
    assert got == {"Funding": "Grant G-1.\nTeam of 5"}
    with pytest.raises(ValueError, match="no front matter"):
        read(*doc(tmp_path, "layout.html", "<html>{{ content }}</html>"))


def test_json_resume_lists_are_one_entry_per_item_titled_by_what_identifies_them(tmp_path):
    resume = ('{"basics": {"name": "Ada Ng", "email": "a@example.org", "location": {"city": "Oslo", "countryCode": "NO"}},'
              '"work": [{"name": "Acme", "position": "Intern", "startDate": "2019-06", "endDate": "2019-09",'
              '"highlights": ["Built a parser for receipts", "Shipped it to 3 teams"]},'
              '{"name": "Beta Labs", "position": "Engineer", "startDate": "2020-01"}],'
              '"education": [{"institution": "Uni A", "studyType": "PhD", "area": "Physics", "endDate": "2023"}],'
              '"languages": [{"language": "Norwegian", "fluency": "Native"}]}')
    page, got, _ = entries(tmp_path, "resume.json", resume)
    assert set(got) == {"Basics", "Intern, Acme", "Engineer, Beta Labs", "PhD, Uni A", "Languages"}
    assert got["Intern, Acme"].splitlines()[0] == "Dates: 2019-06 – 2019-09"
    assert "- Built a parser for receipts" in got["Intern, Acme"]
    assert "Location: Oslo NO" in got["Basics"] and "Dates: 2020-01" in got["Engineer, Beta Labs"]
    assert got["Languages"] == "- Norwegian: Native" or got["Languages"] == "Norwegian: Native"
    assert {e.title: e.doc_type for e in page.entries}["PhD, Uni A"] == "education"


def test_rendercv_sections_and_theme_settings(tmp_path):
    cv = ("cv:\n  name: Ada Ng\n  sections:\n    education:\n      - institution: Uni A\n        area: Physics\n"
          "        degree: PhD\n        start_date: 2019-09\n        end_date: 2023-06\n        highlights:\n"
          "          - 'Advisor: Prof. B'\n    Selected Honors:\n      - bullet: Best thesis prize 2023\n"
          "design:\n  theme: classic\n  colors: {text: black}\n")
    page, got, _ = entries(tmp_path, "cv.yml", cv)
    assert "PhD, Uni A" in got and "Advisor: Prof. B" in got["PhD, Uni A"]
    assert "Best thesis prize 2023" in "\n".join(got.values())
    assert "classic" not in "\n".join(got.values())


def test_bibtex_one_entry_per_publication_with_latex_decoded(tmp_path):
    bib = (r"@string{conf = {Proc. CHI}}" "\n"
           r"@inproceedings{a, title={A {Deep} Study of {\"U}ber}, author={M{\"u}ller, Anna and Lee, Bo},"
           r" booktitle=conf, year={2020}, abstract={We show X.}, selected={true}, preview={a.png}}" "\n"
           r"@article{broken, title={x" "\n"
           r"@article{b, title={Second}, journal={J. Things}, year={2021}, doi={10.1/abc}}" "\n")
    _, page, problems = read(*doc(tmp_path, "papers.bib", bib))
    got = {e.title: e.text for e in page.entries}
    assert set(got) == {"A Deep Study of Über", "Second"}
    assert "Authors: Anna Müller, Bo Lee" in got["A Deep Study of Über"]
    assert "Venue: Proc. CHI" in got["A Deep Study of Über"] and "preview" not in got["A Deep Study of Über"]
    assert "DOI: 10.1/abc" in got["Second"]
    assert len(problems) == 1 and problems[0].startswith("line 3")


@pytest.mark.parametrize("name, text, reason", [
    ("bad.json", '{"a": [1, }', "invalid JSON"),
    ("bad.yml", "a: [unclosed", "broken YAML"),
    ("bomb.yml", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                 "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e]\n", "alias"),
    ("only.yml", "layout: page\nimage: a.png\nshow: true\n", "no text"),
])
def test_broken_data_files_say_why(tmp_path, name, text, reason):
    with pytest.raises(ValueError, match=reason):
        read(*doc(tmp_path, name, text))


def test_benign_yaml_anchors_are_read(tmp_path):
    _, got, _ = entries(tmp_path, "d.yml", "base: &b {org: Acme}\njobs:\n  - {<<: *b, title: Intern, year: 2019}\n")
    assert got["Intern, Acme"] == "Org: Acme\nTitle: Intern\nYear: 2019"
