"""A failed or killed ingest never costs the index that was being served."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.ingest import ingest
from pipeline.providers.lancedb_store import CURRENT, LanceDBStore, current_generation
from tests.fakes import HashEmbedder

ROOT = Path(__file__).resolve().parents[2]

# a child that re-ingests `corpus` into `index` with --rebuild, embedding slowly and saying how far it got
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from pipeline.ingest import ingest
    from pipeline.providers.lancedb_store import LanceDBStore
    from tests.fakes import HashEmbedder

    class Slow(HashEmbedder):
        def embed_passages(self, texts):
            time.sleep(0.05)
            return super().embed_passages(texts)

    def progress(done, total):
        print(f"{done}/{total}", flush=True)

    ingest(Path(sys.argv[1]), LanceDBStore(Path(sys.argv[2])), Slow(), rebuild=True, progress=progress)
    print("finished", flush=True)
""")


def big_corpus(root: Path, marker: str, pages: int = 12) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i in range(pages):
        entries = "".join(f"## Entry {i}-{j}\n{marker} fact number {i}-{j}.\n" for j in range(16))
        (root / f"page{i}.md").write_text(f"---\ntitle: Page {i}\n---\n{entries}", encoding="utf-8")
    return root


def served_texts(index: Path) -> set[str]:
    return {c.text.split()[0] for c in LanceDBStore(index).chunks()}


@pytest.mark.parametrize("share", [0.3, 0.6, 0.9])
def test_a_rebuild_killed_part_way_leaves_the_previous_index_serving(tmp_path, share):
    corpus, index = big_corpus(tmp_path / "site", "OLD"), tmp_path / "index"
    ingest(corpus, LanceDBStore(index), HashEmbedder())
    before = LanceDBStore(index).count()
    big_corpus(corpus, "NEW")  # the owner's edit, being re-ingested when the machine kills it
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(corpus), str(index)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            done, _, total = line.strip().partition("/")
            if total and int(done) >= share * int(total):
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    store = LanceDBStore(index)
    assert store.count() == before and served_texts(index) == {"OLD"}
    assert store.keyword_search("fact", 1)  # its full-text index answers too
    # the next ingest completes, clears what the killed one left, and serves the new text
    report = ingest(corpus, LanceDBStore(index), HashEmbedder())
    assert served_texts(index) == {"NEW"} and report.updated == before
    assert not [p for p in index.iterdir() if p.name.startswith(".build-")]


def test_a_write_that_fails_inside_the_build_changes_nothing(tmp_path, monkeypatch):
    corpus, index = big_corpus(tmp_path / "site", "OLD", pages=2), tmp_path / "index"
    ingest(corpus, LanceDBStore(index), HashEmbedder())
    generation = current_generation(index)
    big_corpus(corpus, "NEW", pages=2)

    def broken_delete(self, ids):
        raise OSError("disk full")

    (corpus / "page1.md").unlink()  # so the build both upserts and deletes
    monkeypatch.setattr(LanceDBStore, "delete", broken_delete)
    with pytest.raises(OSError, match="disk full"):
        ingest(corpus, LanceDBStore(index), HashEmbedder())
    assert current_generation(index) == generation and served_texts(index) == {"OLD"}
    assert not [p for p in index.iterdir() if p.name.startswith(".build-")]


def test_generations_swap_in_one_rename_and_only_the_previous_one_is_kept(tmp_path):
    corpus, index = big_corpus(tmp_path / "site", "ONE", pages=1), tmp_path / "index"
    seen = []
    for marker in ("ONE", "TWO", "THREE"):
        big_corpus(corpus, marker, pages=1)
        ingest(corpus, LanceDBStore(index), HashEmbedder())
        seen.append(current_generation(index))
        time.sleep(0.001)
    assert len(set(seen)) == 3 and (index / CURRENT).read_text().strip() == seen[-1]
    assert sorted(p.name for p in index.iterdir() if p.is_dir()) == sorted(seen[-2:])
    unchanged = ingest(corpus, LanceDBStore(index), HashEmbedder())
    assert unchanged.unchanged == 16 and current_generation(index) == seen[-1]  # nothing changed: no new one


def test_an_index_from_before_generations_is_served_then_replaced(tmp_path):
    corpus, index = big_corpus(tmp_path / "site", "OLD", pages=1), tmp_path / "index"
    legacy = LanceDBStore(index, generation="")
    chunks = __import__("pipeline.corpus", fromlist=["load_corpus"]).load_corpus(corpus).chunks
    legacy.upsert(chunks, HashEmbedder().embed_passages([c.embed_text for c in chunks]), HashEmbedder.name)
    assert (index / "manifest.json").exists() and served_texts(index) == {"OLD"}
    big_corpus(corpus, "NEW", pages=1)
    ingest(corpus, LanceDBStore(index), HashEmbedder())
    assert served_texts(index) == {"NEW"} and current_generation(index)
