"""The curated question dataset: load, validate, resolve reference contexts to chunk ids."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator

from pipeline.corpus import slugify
from pipeline.history import Turn

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = ROOT / "datasets" / "questions.jsonl"

CATEGORIES = (
    "single-fact", "multi-hop", "follow-up", "korean", "mixed-language", "greeting", "identity",
    "off-topic", "prompt-injection", "ambiguous", "unanswerable",
)


class ContextRef(BaseModel):
    source: str = Field(min_length=1)
    heading: str = Field(min_length=1)

    @property
    def chunk_id(self) -> str:
        return f"{self.source}#{slugify(self.heading)}"


class Case(BaseModel):
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    history: list[Turn] = Field(default_factory=list)
    language: Literal["en", "ko"]
    category: Literal[CATEGORIES]  # type: ignore[valid-type]
    expected_relevant: bool
    expected_retrieval: bool
    expected_doc_types: list[str] = Field(default_factory=list)
    reference_answer: str
    reference_contexts: list[ContextRef | str] = Field(default_factory=list)
    split: Literal["train", "dev", "test"]

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question is blank")
        return value

    @property
    def context_ids(self) -> list[str]:
        return [ref if isinstance(ref, str) else ref.chunk_id for ref in self.reference_contexts]

    def history_dicts(self) -> list[dict]:
        return [turn.model_dump() for turn in self.history]


class DatasetError(ValueError):
    """The dataset file has problems; `problems` lists each with its line number."""

    def __init__(self, path: Path, problems: list[str]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{path}: {len(problems)} problem(s)\n{shown}{more}")


@dataclass
class Dataset:
    path: Path
    cases: list[Case]

    def split(self, name: str | None) -> list[Case]:
        if name in (None, "all"):
            return list(self.cases)
        return [c for c in self.cases if c.split == name]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.model_dump() for c in self.cases])


def load_dataset(path: Path = DEFAULT_DATASET, chunk_ids: Iterable[str] | None = None) -> Dataset:
    """Parse and validate a JSONL dataset. With `chunk_ids` (the index's), every
    reference context must resolve to an existing chunk. Errors name the line."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, ["file does not exist"])
    known = set(chunk_ids) if chunk_ids is not None else None
    cases, problems, seen = [], [], set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = Case.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"]) or "(root)"
                problems.append(f"line {number}: {where}: {error['msg']}")
            continue
        if case.id in seen:
            problems.append(f"line {number}: duplicate id {case.id!r}")
        seen.add(case.id)
        if known is not None:
            for cid in case.context_ids:
                if cid not in known:
                    problems.append(f"line {number}: reference context {cid!r} is not a chunk of the index")
        cases.append(case)
    if problems:
        raise DatasetError(path, problems)
    if not cases:
        raise DatasetError(path, ["no cases"])
    return Dataset(path, cases)
