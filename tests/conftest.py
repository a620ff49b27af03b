from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fakes import HashEmbedder, ScriptedEngine

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
