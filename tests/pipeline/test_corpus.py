from pathlib import Path

import pytest

from pipeline.corpus import CorpusError, clean_markdown, load_corpus, slugify


def test_markdown_entries_become_chunks_with_metadata(mini_corpus: Path):
    corpus = load_corpus(mini_corpus)
    by_id = {c.id: c for c in corpus.chunks}
    ms = by_id["education.md#ms-in-robotics"]
    assert ms.source == "education.md"
    assert ms.doc_type == "education"
    assert ms.title == "M.S. in Robotics"
    assert ms.anchor == "ms-in-robotics"
    assert "Prof. Quill Tanaka" in ms.text
    assert "https://" not in ms.text and "**" not in ms.text  # link text kept, markup dropped
    assert ms.embed_text.startswith("CV / Education / M.S. in Robotics\n")
    # doc type falls back to the file name when the front matter has none
    assert by_id["papers.md#swarm-coordination-with-sparse-signals"].doc_type == "papers"
    assert "persona.yaml" not in corpus.files


def test_chunk_ids_are_stable_and_content_hash_tracks_text(mini_corpus: Path):
    first = {c.id: c.content_hash for c in load_corpus(mini_corpus).chunks}
    again = {c.id: c.content_hash for c in load_corpus(mini_corpus).chunks}
    assert first == again
    path = mini_corpus / "education.md"
    path.write_text(path.read_text().replace("Lumen University", "Lumen Polytechnic"))
    changed = {c.id: c.content_hash for c in load_corpus(mini_corpus).chunks}
    assert changed.keys() == first.keys()
    assert [cid for cid in first if first[cid] != changed[cid]] == ["education.md#bs-in-physics"]


def test_korean_headings_keep_their_letters_in_anchors(mini_corpus: Path):
    ids = [c.id for c in load_corpus(mini_corpus).chunks]
    assert "papers.md#한국어-논문-군집-로봇-제어" in ids
    assert slugify("Ph.D. in CS (2020)") == "phd-in-cs-2020"


def test_nested_sections_and_duplicate_headings(tmp_path: Path):
    (tmp_path / "full-cv.md").write_text(
        "---\ntitle: CV\n---\n# Curriculum Vitae\n## Education\n### Degree A\nText A\n### Degree A\nText B\n"
        "## Skills\nPython, C\n"
    )
    chunks = load_corpus(tmp_path).chunks
    assert [c.anchor for c in chunks] == ["degree-a", "degree-a-1", "skills"]
    assert chunks[0].doc_type == "cv"
    assert chunks[0].page_title == "CV / Curriculum Vitae / Education"


def test_json_profile_sections(tmp_path: Path):
    (tmp_path / "profile.json").write_text(
        '{"title": "Profile", "sections": {"Contact": {"email": "a@b.c"}, "Hobbies": ["chess", "go"], "Empty": ""}}'
    )
    chunks = load_corpus(tmp_path).chunks
    assert [c.title for c in chunks] == ["Contact", "Hobbies"]
    assert chunks[0].doc_type == "about"
    assert chunks[1].text == "- chess\n- go"


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("no-front.md", b"## Heading\ntext\n", "no YAML front matter"),
        ("broken.md", b"---\ntitle: [unclosed\n---\n## A\ntext\n", "broken YAML front matter"),
        ("binary.md", b"\x00\x01\x02binary", "binary file"),
        ("empty.md", b"   \n", "empty file"),
        ("latin1.md", "---\ntitle: caf\xe9\n---\n## A\nb\n".encode("latin-1"), "not UTF-8"),
        ("nothing.md", b"---\ntitle: T\n---\n", "no text under any heading"),
        ("bad.json", b"{not json", "invalid JSON"),
        ("image.png", b"\x89PNG", "unsupported file type"),
    ],
)
def test_bad_files_are_reported_and_skipped(mini_corpus: Path, name, content, reason):
    (mini_corpus / name).write_bytes(content)
    corpus = load_corpus(mini_corpus)
    assert [s.path for s in corpus.skipped] == [name]
    assert reason in corpus.skipped[0].reason
    assert {"education.md", "papers.md"} <= set(corpus.files)


def test_missing_or_unusable_corpus_is_an_error(tmp_path: Path):
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CorpusError, match="no usable markdown or JSON file.*notes.txt"):
        load_corpus(tmp_path)


def test_clean_markdown_drops_toc_images_and_separators():
    text = "1. [Education](#education)\n![img](/a.png)\n---\n**Period**: 2020\n[Site](https://x.org)"
    assert clean_markdown(text) == "Period: 2020\nSite"


def test_demo_corpus_is_rich_enough():
    from tests.conftest import DEMO_CORPUS

    corpus = load_corpus(DEMO_CORPUS)
    assert len(corpus.files) >= 8 and len(corpus.chunks) >= 60
    assert not corpus.skipped
    assert any("\uac00" <= ch <= "\ud7a3" for c in corpus.chunks for ch in c.text)
