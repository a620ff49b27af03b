from pathlib import Path

import pytest

from pipeline.ingest import ingest
from pipeline.providers.base import IndexMismatchError
from pipeline.providers.lancedb_store import LanceDBStore
from tests.fakes import HashEmbedder


@pytest.fixture
def store(tmp_path: Path) -> LanceDBStore:
    return LanceDBStore(tmp_path / "index")


def test_first_ingest_embeds_everything_and_reports_progress(mini_corpus, store, hash_embedder):
    seen = []
    report = ingest(mini_corpus, store, hash_embedder, progress=lambda done, total: seen.append((done, total)))
    assert (report.files, report.chunks, report.new, report.updated, report.deleted) == (2, 4, 4, 0, 0)
    assert store.count() == 4 and hash_embedder.texts_embedded == 4
    assert seen[-1] == (4, 4)
    assert store.embedder_name() == hash_embedder.name
    assert store.doc_types() == ["education", "papers"]


def test_reingest_is_idempotent_and_incremental(mini_corpus, store, hash_embedder):
    ingest(mini_corpus, store, hash_embedder)
    again = ingest(mini_corpus, store, hash_embedder)
    assert (again.new, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 4)
    assert hash_embedder.texts_embedded == 4  # nothing re-embedded

    edu = mini_corpus / "education.md"
    edu.write_text(edu.read_text().replace("Lumen University", "Lumen Polytechnic"))
    papers = mini_corpus / "papers.md"
    papers.write_text(papers.read_text().split("## 한국어")[0])
    changed = ingest(mini_corpus, store, hash_embedder)
    assert (changed.new, changed.updated, changed.deleted) == (0, 1, 1)
    assert hash_embedder.texts_embedded == 5
    assert store.count() == 3
    texts = {c.id: c.text for c in store.chunks()}
    assert "Lumen Polytechnic" in texts["education.md#bs-in-physics"]


def test_other_embedder_needs_rebuild(mini_corpus, store, hash_embedder):
    ingest(mini_corpus, store, hash_embedder)
    other = HashEmbedder(dim=32)
    other.name = "fake/hash-32"
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        ingest(mini_corpus, store, other)
    report = ingest(mini_corpus, store, other, rebuild=True)
    assert report.new == 4 and store.embedder_name() == "fake/hash-32"


def test_skipped_files_are_in_the_report(mini_corpus, store, hash_embedder):
    (mini_corpus / "draft.md").write_text("---\ntitle: [unclosed\n---\ntext\n")
    report = ingest(mini_corpus, store, hash_embedder)
    assert [(s.path, "front matter" in s.reason) for s in report.skipped] == [("draft.md", True)]


def test_an_index_from_an_older_tokenizer_is_refused_then_updated_by_ingest(mini_corpus, store, hash_embedder):
    import json

    from pipeline.factory import check_index
    from pipeline.text import KEYWORDS_VERSION

    ingest(mini_corpus, store, hash_embedder)
    manifest_path = store.data_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["keywords"] == KEYWORDS_VERSION
    # what an index written before the version was recorded looks like: no version, no bigram field
    del manifest["keywords"]
    manifest_path.write_text(json.dumps(manifest))
    store._open().drop_columns(["keyword_bigrams"])
    with pytest.raises(IndexMismatchError, match="run `workbench ingest` again"):
        check_index(LanceDBStore(store.index_dir), hash_embedder)

    again = ingest(mini_corpus, LanceDBStore(store.index_dir), hash_embedder)
    assert again.updated == 4 and again.unchanged == 0  # every chunk's keywords rewritten
    check_index(LanceDBStore(store.index_dir), hash_embedder)
    assert ingest(mini_corpus, LanceDBStore(store.index_dir), hash_embedder).unchanged == 4
    assert LanceDBStore(store.index_dir).keyword_search("ORCHID-7", 1)  # both fields indexed again


def test_headings_with_the_same_slug_are_all_indexed_and_reingest_embeds_nothing(tmp_path, store, hash_embedder):
    corpus = tmp_path / "dup"
    corpus.mkdir()
    (corpus / "a.md").write_text("---\ntitle: A\n---\n## Foo\none\n## Foo\ntwo\n## Foo 1\nthree\n")
    first = ingest(corpus, store, hash_embedder)
    assert (first.chunks, first.new, store.count()) == (3, 3, 3)
    assert sorted(c.text for c in store.chunks()) == ["one", "three", "two"]
    again = ingest(corpus, store, hash_embedder)
    assert (again.new, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 3)
    assert hash_embedder.texts_embedded == 3


def test_split_sections_are_in_the_report(tmp_path, store, hash_embedder):
    corpus = tmp_path / "long"
    corpus.mkdir()
    (corpus / "a.md").write_text("---\ntitle: A\n---\n## Long\n" + "A sentence that goes on. " * 200 + "\n")
    report = ingest(corpus, store, hash_embedder)
    assert [(s.source, s.anchor, s.parts) for s in report.split] == [("a.md", "long", 4)]
    assert report.chunks == report.new == store.count() == 4
