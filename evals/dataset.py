"""The curated question dataset: load, validate, resolve reference contexts to chunk ids.

Categories and languages are recommendations, not a closed list: a site owner's own
questions may need a category the demo set never had. `KNOWN_CATEGORIES` and
`RECOMMENDED_LANGUAGES` are what the metrics and the demo set know; anything else
is accepted here and warned about by `workbench dataset check`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field, ValidationError, field_validator

from pipeline.corpus import slugify
from pipeline.history import Turn

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATASET = ROOT / "datasets" / "questions.jsonl"
SCHEMA_FILE = ROOT / "datasets" / "questions.schema.json"

# the categories the demo dataset covers, every one in every split
DEMO_CATEGORIES = (
    "single-fact", "multi-hop", "follow-up", "korean", "mixed-language", "greeting", "identity",
    "off-topic", "prompt-injection", "ambiguous", "unanswerable",
)
# ... and the ones a site owner's own set is likely to want as well
KNOWN_CATEGORIES = (
    *DEMO_CATEGORIES,
    "standalone-after-history",  # a new topic after a conversation: the rewrite must not drag the old one in
    "after-declined",  # an ordinary question right after the twin declined one
    "current-status",  # "what are you working on now?": answers go stale when the site changes
)
CATEGORIES = DEMO_CATEGORIES  # kept for callers of the old name
# languages the metrics and the pipeline handle; others are warned about, not refused
RECOMMENDED_LANGUAGES = ("en", "ko")
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"


class ContextRef(BaseModel):
    source: str = Field(min_length=1, description="The corpus file, as `workbench chunks` lists it.")
    heading: str = Field(min_length=1, description="The heading of the entry (its text, not its anchor).")

    @property
    def chunk_id(self) -> str:
        return f"{self.source}#{slugify(self.heading)}"


class Case(BaseModel):
    """One evaluation question: one line of a JSONL dataset."""

    id: str = Field(min_length=1, description="Unique and stable: the gate pairs runs by id and text.")
    question: str = Field(min_length=1, description="The visitor's message.")
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, Gemini format.")
    language: str = Field(pattern=LANGUAGE_PATTERN, examples=list(RECOMMENDED_LANGUAGES),
                          description="The visitor's language (a short code; en and ko are recommended).")
    category: str = Field(min_length=1, examples=list(KNOWN_CATEGORIES),
                          description="Any non-empty label; reports group by it. Known ones are listed in examples.")
    expected_relevant: bool = Field(description="Should the twin answer (true) or decline (false)?")
    expected_retrieval: bool = Field(description="Does answering need the site's passages?")
    expected_doc_types: list[str] = Field(default_factory=list, description="Site sections the plan should pick.")
    reference_answer: str = Field(description="A good answer, for the similarity metrics.")
    reference_contexts: list[ContextRef | str] = Field(
        default_factory=list, description="The passages the answer needs: {source, heading} or a chunk id.")
    split: Literal["train", "dev", "test"] | None = Field(
        None, description="test is what `make eval` gates on; left out, it is assigned when the file is loaded "
                          "from the case's id (seeded: a case keeps its split as cases are added or removed).")
    draft: bool = Field(False, description="Written by `workbench dataset draft` and not reviewed yet; "
                                           "eval ignores it, `dataset check` warns.")

    @field_validator("question", "category")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is blank")
        return value

    @property
    def context_ids(self) -> list[str]:
        return [ref if isinstance(ref, str) else ref.chunk_id for ref in self.reference_contexts]

    def history_dicts(self) -> list[dict]:
        return [turn.model_dump() for turn in self.history]

    @property
    def history_sha256(self) -> str:
        """The history's fingerprint: with the question, what the gate calls the same question."""
        return _sha256(_canonical(self.history_dicts()))[:16]

    def canonical(self) -> str:
        """The case as content (the review flag `draft` is not content)."""
        return _canonical(self.model_dump(mode="json", exclude={"draft"}))


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dataset_sha256(cases: Iterable[Case]) -> str:
    """sha256 of the canonical cases, sorted by id: formatting and line order do not change it."""
    return _sha256("\n".join(case.canonical() for case in sorted(cases, key=lambda c: c.id)))


@dataclass
class Problem:
    """One problem of a dataset file, on a line (0: the file as a whole)."""

    line: int
    message: str
    kind: str = "schema"  # schema | json | duplicate | reference | empty
    field: str = ""
    value: object = None

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class DatasetError(ValueError):
    """The dataset file has problems; `problems` lists each with its line number."""

    def __init__(self, path: Path, problems: Sequence[Problem | str]):
        self.path = Path(path)
        self.details = [p if isinstance(p, Problem) else Problem(0, p) for p in problems]
        self.problems = [str(p) for p in self.details]
        shown = "\n".join(f"  {p}" for p in self.problems[:20])
        more = f"\n  … and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"{path}: {len(self.problems)} problem(s)\n{shown}{more}")

    @property
    def only_unresolved_references(self) -> bool:
        """Every problem is a reference context the index lacks: the file fits another corpus."""
        return bool(self.details) and all(p.kind == "reference" for p in self.details)


# each category's cases go round these splits, so even a small set has test and dev questions
SPLIT_CYCLE: tuple[Literal["train", "dev", "test"], ...] = ("train", "test", "train", "dev", "train")
SPLIT_SEED = 0


def assign_splits(cases: Sequence[Case], seed: int = SPLIT_SEED) -> int:
    """Give every case without a split one, in place, from its own id and the seed: a slot of
    `SPLIT_CYCLE` (3 train : 1 dev : 1 test). Not from its rank among the others, so a case keeps
    its split when the owner adds or removes cases (a test question never drifts into train, and
    the gate keeps pairing). Returns how many it gave."""
    given = 0
    for case in cases:
        if case.split is None:
            case.split = SPLIT_CYCLE[int(_sha256(f"{seed}:{case.id}"), 16) % len(SPLIT_CYCLE)]
            given += 1
    return given


@dataclass
class Dataset:
    path: Path
    cases: list[Case]
    lines: dict[str, int] = field(default_factory=dict)  # case id → line number
    assigned_splits: int = 0  # cases the file gave no split, split here (`assign_splits`)

    def splits_note(self) -> str:
        """What a report says about splits it made and drafts it left out, or nothing."""
        drafts = (f"{self.drafts} case(s) still marked draft are left out (review them, then delete "
                  '"draft": true)') if self.drafts else ""
        if not self.assigned_splits:
            return drafts
        counts = Counter(c.split for c in self.cases)
        return (f"{self.assigned_splits} case(s) had no split: assigned from each case's id with seed {SPLIT_SEED} "
                f"(train {counts['train']}, dev {counts['dev']}, test {counts['test']}); "
                "write a split into a case to move it") + (f"; {drafts}" if drafts else "")

    def split(self, name: str | None) -> list[Case]:
        """The reviewed cases of a split (a case still marked `draft` is left out until reviewed)."""
        reviewed = [c for c in self.cases if not c.draft]
        if name in (None, "all"):
            return reviewed
        return [c for c in reviewed if c.split == name]

    @property
    def drafts(self) -> int:
        return sum(1 for c in self.cases if c.draft)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.model_dump() for c in self.cases])

    @property
    def sha256(self) -> str:
        return dataset_sha256(self.cases)


def read_cases(path: Path) -> tuple[list[tuple[int, Case]], list[Problem]]:
    """Every valid case with its line number, and every problem of the file."""
    cases: list[tuple[int, Case]] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = Case.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(Problem(number, f"invalid JSON ({exc.msg} at column {exc.colno})", "json"))
            continue
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"]) or "(root)"
                problems.append(Problem(number, f"{where}: {error['msg']}", "schema", where, error.get("input")))
            continue
        if case.id in seen:
            problems.append(Problem(number, f"duplicate id {case.id!r} (first on line {seen[case.id]})",
                                    "duplicate", "id", case.id))
        seen.setdefault(case.id, number)
        cases.append((number, case))
    return cases, problems


def unresolved_references(cases: Iterable[tuple[int, Case]], chunk_ids: Iterable[str]) -> list[Problem]:
    known = set(chunk_ids)
    return [Problem(number, f"reference context {cid!r} is not a chunk of the index", "reference",
                    "reference_contexts", cid)
            for number, case in cases for cid in case.context_ids if cid not in known]


def load_dataset(path: Path = DEFAULT_DATASET, chunk_ids: Iterable[str] | None = None) -> Dataset:
    """Parse and validate a JSONL dataset. With `chunk_ids` (the index's), every
    reference context must resolve to an existing chunk. Errors name the line."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, ["file does not exist"])
    numbered, problems = read_cases(path)
    if chunk_ids is not None:
        problems += unresolved_references(numbered, chunk_ids)
    if problems:
        ordered: list[Problem] = sorted(problems, key=lambda p: p.line)
        raise DatasetError(path, ordered)
    if not numbered:
        raise DatasetError(path, [Problem(0, "no cases", "empty")])
    cases = [case for _, case in numbered]
    assigned = assign_splits(cases)
    return Dataset(path, cases, {case.id: number for number, case in numbered}, assigned)


def case_json_schema() -> dict:
    """The JSONL line format as JSON Schema (datasets/questions.schema.json is this, written out)."""
    schema = Case.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "One JSON object per line of a dataset JSONL file. Generated from evals/dataset.py:Case by "
                    "`workbench dataset schema`; tests/evals/test_dataset.py checks it is up to date.",
        **schema,
    }
