"""`workbench dataset draft`: a first dataset for a site owner's own content, written offline.

From each chunk's heading and fields it writes one single-fact question per language from
templates (`evals/draft_templates.yaml`: data, not code), with the chunk as the reference
context and its first lines as a reference answer to edit; plus a greeting, off-topic
requests and questions a personal site should not answer (phone number, salary, home
address). Every case says `"draft": true` until a person has read it (`dataset check`
counts them).

Templates make questions that repeat the heading; a capable LM drafts better ones
(paraphrases, multi-hop, follow-ups with history). That is the extension point: a
`Drafter` is any callable `(chunks, templates) -> list of case dicts`; write one that
prompts your LM with each chunk's text and pass it to `draft_cases(..., drafter=...)`.
None ships here, so drafting never calls the network.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import yaml

from evals.dataset import SPLIT_CYCLE
from pipeline.corpus import slugify
from pipeline.providers.base import Chunk

TEMPLATES = resources.files("evals").joinpath("draft_templates.yaml")
REFERENCE_CHARS = 300  # the reference answer: the passage's first lines, to be edited into an answer

Drafter = Callable[[Sequence[Chunk], dict], list[dict]]


def load_templates(path: Path | Traversable = TEMPLATES) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _case_id(*parts: str) -> str:
    return "d-" + hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:10]


def _reference(chunk: Chunk) -> dict | str:
    """{source, heading} when the heading names the chunk, else its id (repeated or split headings)."""
    if slugify(chunk.title) == chunk.anchor:
        return {"source": chunk.source, "heading": chunk.title}
    return chunk.id


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= REFERENCE_CHARS else text[:REFERENCE_CHARS].rsplit(" ", 1)[0] + "…"


def _entries(chunks: Iterable[Chunk]) -> list[tuple[Chunk, list[Chunk]]]:
    """One entry per heading: a full-CV page that repeats a dedicated page's entry adds its
    chunk as a second reference, not a second question."""
    by_title: dict[str, list[Chunk]] = defaultdict(list)
    for chunk in chunks:
        by_title[chunk.title.strip().lower()].append(chunk)
    entries = []
    for same in by_title.values():
        same = sorted(same, key=lambda c: (c.doc_type == "cv", c.id))  # the dedicated page first
        entries.append((same[0], same))
    return sorted(entries, key=lambda e: e[0].id)


def template_drafter(chunks: Sequence[Chunk], templates: dict) -> list[dict]:
    """The offline drafter: one question per chunk and language, and the fixed cases."""
    cases = []
    for language, block in templates.items():
        facts = block.get("fact", {})
        for chunk, same in _entries(chunks):
            template = facts.get(chunk.doc_type, facts.get("default"))
            if not template:
                continue
            cases.append({
                "id": _case_id(chunk.id, language), "language": language, "category": block["category"],
                "question": template.format(title=chunk.title, page=chunk.page_title),
                "expected_relevant": True, "expected_retrieval": True,
                "expected_doc_types": sorted({c.doc_type for c in same}),
                "reference_answer": _excerpt(chunk.text),
                "reference_contexts": [_reference(c) for c in same],
            })
        for item in block.get("greeting", []):
            cases.append(_fixed(language, "greeting", item["question"], item["answer"], relevant=True))
        for item in block.get("off_topic", []):
            cases.append(_fixed(language, "off-topic", item["question"], item["answer"], relevant=False))
        for item in block.get("unanswerable", []):
            case = _fixed(language, "unanswerable", item["question"], block["unanswerable_answer"], relevant=True)
            case["expected_retrieval"] = True  # it looks for the fact and must say the site does not have it
            cases.append(case)
    return cases


def _fixed(language: str, category: str, question: str, answer: str, relevant: bool) -> dict:
    return {"id": _case_id(category, question, language), "language": language, "category": category,
            "question": question, "expected_relevant": relevant, "expected_retrieval": False,
            "expected_doc_types": [], "reference_answer": answer, "reference_contexts": []}


def draft_cases(chunks: Sequence[Chunk], templates: dict | None = None,
                drafter: Drafter = template_drafter) -> list[dict]:
    """Draft cases, each with a split and `"draft": true`, in the dataset's JSONL shape."""
    drafted = drafter(list(chunks), templates if templates is not None else load_templates())
    seen: dict[str, int] = defaultdict(int)
    out = []
    for case in drafted:
        split = SPLIT_CYCLE[seen[case["category"]] % len(SPLIT_CYCLE)]
        seen[case["category"]] += 1
        out.append({"history": [], **case, "split": case.get("split", split), "draft": True})
    return out


def write_jsonl(cases: Iterable[dict], path: Path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
    return Path(path)
