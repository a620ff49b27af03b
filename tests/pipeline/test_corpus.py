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
        ("unclosed.md", b"+++\ntitle = 'T'\n## A\ntext\n", "not closed"),
        ("bad.toml", b"title = [", "broken TOML"),
        ("bad.bib", b"@article{x, title={unclosed", "no BibTeX entries"),
        ("frontless.html", b"<h2>Template</h2>{{ content }}", "no front matter"),
        ("broken.md", b"---\ntitle: [unclosed\n---\n## A\ntext\n", "broken YAML front matter"),
        ("binary.md", b"\x00\x01\x02binary", "binary file"),
        ("empty.md", b"   \n", "empty file"),
        ("latin1.md", "---\ntitle: caf\xe9\n---\n## A\nb\n".encode("latin-1"), "not UTF-8"),
        ("nothing.md", b"---\ntitle: T\nlayout: page\n---\n{% include cv.html %}\n", "no text in it"),
        ("bad.json", b"{not json", "invalid JSON"),
        ("deep.json", b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
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
    with pytest.raises(CorpusError, match="no readable page or data file.*notes.txt"):
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


def test_headings_with_the_same_slug_get_unique_stable_anchors(tmp_path: Path):
    # the second "Foo" takes foo-1; the real "Foo 1" then finds foo-1 taken and goes on (github-slugger's rule)
    (tmp_path / "a.md").write_text("---\ntitle: A\n---\n## Foo\none\n## Foo\ntwo\n## Foo 1\nthree\n")
    # a real heading first keeps its slug, the duplicates skip it
    (tmp_path / "b.md").write_text("---\ntitle: B\n---\n## Foo 1\none\n## Foo\ntwo\n## Foo\nthree\n")
    chunks = load_corpus(tmp_path).chunks
    assert [(c.id, c.text) for c in chunks] == [
        ("a.md#foo", "one"), ("a.md#foo-1", "two"), ("a.md#foo-1-1", "three"),
        ("b.md#foo-1", "one"), ("b.md#foo", "two"), ("b.md#foo-2", "three"),
    ]
    assert [c.id for c in load_corpus(tmp_path).chunks] == [c.id for c in chunks]


def test_json_keys_with_the_same_slug_get_unique_anchors(tmp_path: Path):
    (tmp_path / "profile.json").write_text('{"sections": {"A b": "one", "a-b": "two", "A  B": "three"}}')
    assert [c.anchor for c in load_corpus(tmp_path).chunks] == ["a-b", "a-b-1", "a-b-2"]


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files beside the corpus folder, not in it."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "credentials.json").write_text('{"sections": {"key": "SECRET-TOKEN-123"}}')
    (folder / "notes.md").write_text("---\ntitle: Notes\n---\n## Private\nSECRET-NOTE-456\n")
    return folder


def test_symlinks_leaving_the_corpus_are_skipped(mini_corpus: Path, outside: Path):
    (mini_corpus / "credentials.json").symlink_to(outside / "credentials.json")
    (mini_corpus / "private").symlink_to(outside, target_is_directory=True)
    (mini_corpus / "relative.md").symlink_to(Path("..") / "elsewhere" / "notes.md")
    (mini_corpus / "dangling.md").symlink_to(outside / "gone.md")
    corpus = load_corpus(mini_corpus)
    texts = " ".join(c.text for c in corpus.chunks)
    assert "SECRET" not in texts
    assert sorted((s.path, s.reason) for s in corpus.skipped) == [
        ("credentials.json", "symlink leaves the corpus folder"),
        ("dangling.md", "symlink leaves the corpus folder"),
        ("private", "symlink leaves the corpus folder"),
        ("relative.md", "symlink leaves the corpus folder"),
    ]
    assert corpus.files == ["education.md", "papers.md"]


def test_symlinks_inside_the_corpus_are_read(mini_corpus: Path):
    (mini_corpus / "sub").mkdir()
    (mini_corpus / "sub" / "papers-again.md").symlink_to(Path("..") / "papers.md")
    (mini_corpus / "sub" / "loop").symlink_to(mini_corpus, target_is_directory=True)
    corpus = load_corpus(mini_corpus)
    assert "sub/papers-again.md" in corpus.files
    # a folder link is not followed (it could loop), and says so
    assert [(s.path, s.reason) for s in corpus.skipped] == [("sub/loop", "symlink to a folder (not followed)")]


def test_files_over_the_size_limit_are_skipped(mini_corpus: Path):
    from pipeline.corpus import MAX_FILE_BYTES

    big = mini_corpus / "big.md"
    big.write_bytes(b"---\ntitle: Big\n---\n## Big\n" + b"x" * (MAX_FILE_BYTES + 1024 * 1024))
    corpus = load_corpus(mini_corpus)
    assert [s.path for s in corpus.skipped] == ["big.md"]
    assert "too large" in corpus.skipped[0].reason and "2 MB" in corpus.skipped[0].reason


@pytest.mark.parametrize(
    "front_matter, reason",
    [
        ("title: T\nnote: " + "x" * 70_000, "front matter is too large"),
        ('a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
         "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
         "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ntitle: *f\n", "aliases expand"),
        ("a: &a [*a]\ntitle: T\n", "refers to itself"),
        ("title: " + "[" * 5000, "nested too deeply"),
    ],
)
def test_front_matter_is_bounded_and_alias_bombs_refused(tmp_path: Path, front_matter, reason):
    (tmp_path / "ok.md").write_text("---\ntitle: OK\n---\n## A\ntext\n")
    (tmp_path / "bad.md").write_text(f"---\n{front_matter}\n---\n## A\ntext\n")
    corpus = load_corpus(tmp_path)
    assert [s.path for s in corpus.skipped] == ["bad.md"]
    assert reason in corpus.skipped[0].reason


def test_long_paragraphs_are_split_at_sentences_into_bounded_chunks(tmp_path: Path):
    from pipeline.corpus import MAX_CHUNK_CHARS

    sentence = "The swarm kept its formation under sparse signals. "
    paragraph = (sentence * (20_000 // len(sentence))).strip()
    (tmp_path / "long.md").write_text(f"---\ntitle: Long\n---\n## Long Entry\n{paragraph}\n## Short\nok\n")
    corpus = load_corpus(tmp_path)
    long = [c for c in corpus.chunks if c.title == "Long Entry"]
    assert len(long) >= 14 and all(len(c.text) <= MAX_CHUNK_CHARS for c in long)
    assert [c.anchor for c in long[:3]] == ["long-entry", "long-entry-part-2", "long-entry-part-3"]
    assert all(c.text.endswith("signals.") for c in long)  # cut between sentences
    assert " ".join(c.text for c in long) == paragraph
    assert [c.anchor for c in load_corpus(tmp_path).chunks] == [c.anchor for c in corpus.chunks]
    assert [(s.source, s.anchor, s.parts) for s in corpus.split] == [("long.md", "long-entry", len(long))]


def test_a_line_without_sentence_or_word_breaks_is_still_bounded(tmp_path: Path):
    from pipeline.corpus import MAX_CHUNK_CHARS

    (tmp_path / "blob.md").write_text("---\ntitle: Blob\n---\n## Blob\n" + "y" * 20_000 + "\n")
    (tmp_path / "data.json").write_text('{"sections": {"Big": "' + "word " * 4000 + '"}}')
    chunks = load_corpus(tmp_path).chunks
    assert all(len(c.text) <= MAX_CHUNK_CHARS for c in chunks)
    assert sum(len(c.text) for c in chunks if c.source == "blob.md") == 20_000
    assert [c.anchor for c in chunks if c.source == "data.json"][:2] == ["big", "big-part-2"]


def test_titles_are_plain_text(tmp_path: Path):
    (tmp_path / "x.md").write_text(
        "---\ntitle: \"<b>Page</b> &amp; more\"\n---\n"
        "## <img src=x onerror=alert(1)> Hello &lt;b&gt; &amp; co\ntext one\n"
        "## <img src=x onerror=alert(1)>\ntext two\n"
        "## Tips for C# ##\ntext three\n"
    )
    (tmp_path / "p.json").write_text('{"sections": {"<script>alert(1)</script>Contact": "a@b.c"}}')
    chunks = load_corpus(tmp_path).chunks
    assert [c.title for c in chunks] == ["Contact", "Hello <b> & co", "Page & more", "Tips for C#"]
    assert chunks[1].page_title == "Page & more"
    for c in chunks:
        assert "onerror" not in c.id + c.title + c.page_title and "script" not in c.id + c.title


def test_clean_markdown_keeps_link_text_whatever_the_url():
    assert clean_markdown("[x](javascript:alert(1)) and [Wiki](https://en.wikipedia.org/wiki/Go_(game)).") == (
        "x and Wiki."
    )
    assert clean_markdown("<b>bold</b> &lt;tag&gt; &amp;amp; <https://x.org> R&D") == "bold <tag> &amp; https://x.org R&D"
    assert clean_markdown("a&copyright; stays, &notin text") == "a&copyright; stays, &notin text"


def test_pathological_lines_are_read_in_linear_time(tmp_path: Path):
    """Twice the input takes about twice the time (a backtracking regex would take 4x or far more)."""
    import time

    def seconds(line: str) -> float:
        started = time.perf_counter()
        clean_markdown(line)
        (tmp_path / "p.md").write_text(f"---\ntitle: P\n---\n## H\n{line}\nsome text\n")
        load_corpus(tmp_path)
        return time.perf_counter() - started

    for unit in ("[", "![", " ", "[a]("):
        small, large = seconds("## a" + unit * 20_000 + "b"), seconds("## a" + unit * 40_000 + "b")
        assert large < 3.5 * small + 0.05, (unit, small, large)
