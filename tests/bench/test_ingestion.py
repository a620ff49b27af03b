"""Ingestion against the embedder alone, and a re-ingest with nothing changed."""

from __future__ import annotations

from bench.ingestion import corpus_subset, first_files, run


def test_ingestion_is_measured_against_the_embedder_on_the_same_texts(mini_corpus, hash_embedder):
    figures = run(mini_corpus, embedder=hash_embedder)
    assert figures["chunks"] == 4 and figures["files"] == 2
    assert figures["reingest_reembedded"] == 0 and figures["reingest_unchanged"] == 4
    assert figures["ingest_ratio_vs_embedder"] > 0 and figures["reingest_ratio"] > 0
    # warm-up (2) + the embedder alone (4) + the first ingest (4); the re-ingest embeds nothing
    assert hash_embedder.texts_embedded == 10


def test_a_quick_run_copies_only_the_named_files(mini_corpus, tmp_path, hash_embedder):
    subset = corpus_subset(mini_corpus, ["papers.md"], tmp_path / "subset")
    assert sorted(p.name for p in subset.iterdir()) == ["papers.md", "persona.yaml"]
    assert run(mini_corpus, embedder=hash_embedder, files=["papers.md"])["chunks"] == 2


def test_first_files_counts_content_files_only(mini_corpus):
    assert first_files(mini_corpus, 1) == ["education.md"]
    assert first_files(mini_corpus, 5) == ["education.md", "papers.md"]  # persona.yaml is not content
    assert first_files(mini_corpus, None) is None
