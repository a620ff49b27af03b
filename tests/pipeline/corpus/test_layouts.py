"""One layout per site framework: on each fixture site, what is read, what is skipped and why, and URLs."""

import os
from pathlib import Path

import pytest

from pipeline.corpus import load_corpus
from pipeline.corpus.owner import draft_persona
from pipeline.corpus.text import has_template_syntax

SITES = Path(__file__).resolve().parents[3] / "datasets" / "sites"


def site(name: str):
    return load_corpus(SITES / name / "site")


@pytest.mark.parametrize("name, layout, readers", [
    ("alfolio", "jekyll", {"markdown", "html", "data", "bibtex"}),
    ("academicpages", "jekyll", {"markdown", "html", "data", "bibtex"}),
    ("hugoblox", "hugo", {"markdown", "html", "data", "bibtex"}),
    ("hugo-ko", "hugo", {"markdown", "html", "data"}),
])
def test_each_layout_is_recognised_and_every_content_kind_read(name, layout, readers):
    corpus = site(name)
    assert corpus.layout == layout
    assert {f.reader for f in corpus.read} == readers
    for chunk in corpus.chunks:
        assert not has_template_syntax(chunk.text), chunk.id
        assert "layout:" not in chunk.text.lower() and "permalink" not in chunk.text.lower(), chunk.id


@pytest.mark.parametrize("name, built", [("alfolio", "_site/"), ("academicpages", "_site/"), ("hugoblox", "public/"),
                                         ("hugo-ko", "public/")])
def test_theme_build_and_repository_files_are_skipped_with_a_reason(name, built):
    corpus = site(name)
    skipped = {s.path: s.reason for s in corpus.skipped}
    assert "built site" in skipped[built]
    assert "repository file" in skipped["README.md"]
    read = set(corpus.files)
    assert not any(p.startswith(("_site/", "public/", "_layouts/", "_includes/", "layouts/", "themes/")) for p in read)


def test_pages_not_files_jekyll_collections_permalinks_and_the_pages_that_show_data():
    urls = {f.path: f.url for f in site("academicpages").read}
    assert urls["_pages/cv.md"] == "/cv/"
    assert urls["_data/cv.json"] == "/cv/"  # the page whose Liquid reads site.data.cv
    assert urls["_talks/2023-04-12-maps-you-can-feel.md"].startswith("/talks/")
    al = {f.path: f.url for f in site("alfolio").read}
    assert al["_bibliography/papers.bib"] == "/publications/"  # the page with {% bibliography %}
    assert al["assets/json/resume.json"] == "/cv/"


def test_hugo_bundles_sections_slug_and_url_overrides():
    urls = {f.path: f.url for f in site("hugoblox").read}
    assert urls["content/publications/soil-moisture-memory/index.md"] == "/publications/soil-moisture-memory/"
    assert urls["content/publications/soil-moisture-memory/cite.bib"] == "/publications/soil-moisture-memory/"
    assert urls["content/projects/coastal-compound-flood/index.md"] == "/projects/tidewater/"  # slug:
    assert urls["content/blog/phd-openings-2026/index.md"] == "/join-the-lab/"  # url:
    assert urls["content/teaching/_index.md"] == "/teaching/"
    assert urls["content/experience.md"] == "/experience/"
    titles = {c.source: c.page_title for c in site("hugoblox").chunks}
    assert titles["content/projects/heatwise/index.md"].startswith("HEATWISE")


def test_a_folder_inside_a_site_is_read_with_the_sites_layout():
    corpus = load_corpus(SITES / "hugoblox" / "site" / "content" / "publications")
    assert corpus.layout == "hugo"
    assert all(not f.path.startswith("content/") for f in corpus.read)  # sources relative to the folder given
    assert {f.url for f in corpus.read if f.path == "heatwise-dataset/index.md"} == {"/publications/heatwise-dataset/"}


def test_the_owner_is_drafted_from_the_sites_own_files():
    persona = draft_persona(SITES / "hugo-ko" / "site")
    assert (persona.name, persona.native_name) == ("Hajin Moon", "문하진")
    assert [link.href for link in persona.site_map][:2] == ["/about/", "/cv/"]
    al = draft_persona(SITES / "alfolio" / "site")
    assert al.name == "Ines K. Marchetti" and "CV" in [link.label for link in al.site_map]


def test_a_file_symlink_loop_and_other_hostile_files_cost_only_themselves(tmp_path):
    (tmp_path / "ok.md").write_text("---\ntitle: OK\n---\n## A\ntext\n")
    os.symlink("loop-b.md", tmp_path / "loop-a.md")
    os.symlink("loop-a.md", tmp_path / "loop-b.md")
    os.symlink("/etc/passwd", tmp_path / "passwd.md")
    (tmp_path / "latin1.md").write_bytes(b"---\ntitle: caf\xe9\n---\n")
    (tmp_path / "refs.bib").write_text("@article{x, title={unclosed")
    corpus = load_corpus(tmp_path)
    assert corpus.files == ["ok.md"]
    reasons = {s.path: s.reason for s in corpus.skipped}
    assert "loop" in reasons["loop-a.md"] and "loop" in reasons["loop-b.md"]
    assert "leaves the corpus" in reasons["passwd.md"]
    assert "UTF-8" in reasons["latin1.md"] and "BibTeX" in reasons["refs.bib"]
