"""`workbench dataset check`: every problem of a dataset file, on its line, with what to do.

Errors are what `workbench eval` refuses (invalid JSON, a missing field, a duplicate id,
a reference context that is not a chunk of the index). Warnings are allowed but worth a
look: a category or language the metrics do not know, a draft nobody has reviewed, a
question that expects retrieval but names no passage, a test split too small to gate on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.dataset import (
    KNOWN_CATEGORIES,
    RECOMMENDED_LANGUAGES,
    Case,
    Problem,
    assign_splits,
    read_cases,
    unresolved_references,
)
from pipeline.providers.base import Chunk

SCHEMA_HINT = "see datasets/questions.schema.json"
SMALL_TEST_SPLIT = 20  # below this the gate sees only large drops (the report prints each metric's MDE)
# categories whose good answer needs no passage: "the site does not say", "which one do you mean?"
NO_PASSAGE = ("unanswerable", "ambiguous")


@dataclass
class Finding:
    level: str  # "error" | "warning"
    line: int  # 0: the file as a whole
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.level}: {self.message}" + (f"\n    → {self.fix}" if self.fix else "")


def _fix_for(problem: Problem, chunks: Sequence[Chunk] | None) -> str:
    if problem.kind == "json":
        return "each line must be one JSON object: check quotes, commas and that the object is not split over lines"
    if problem.kind == "duplicate":
        return "give each case its own id: the gate pairs runs by id (and question text)"
    if problem.kind == "reference":
        return _closest_chunks(str(problem.value), chunks or [])
    field = problem.field.split(".")[0]
    if "Field required" in problem.message:
        return f"add \"{problem.field}\" ({SCHEMA_HINT})"
    hints = {
        "split": "use train, dev or test (test is what `make eval` gates on)",
        "language": "a short language code such as en or ko",
        "category": "any non-empty label, e.g. " + ", ".join(KNOWN_CATEGORIES[:4]),
        "history": 'history turns look like {"role": "user" or "model", "parts": [{"text": "..."}]} (Gemini format)',
        "reference_contexts": 'a reference is {"source": FILE, "heading": HEADING} or a chunk id; '
                              "`workbench chunks` lists both",
    }
    return hints.get(field, SCHEMA_HINT)


def _closest_chunks(wanted: str, chunks: Sequence[Chunk]) -> str:
    """Name the chunks the author probably meant (fuzzy match on ids)."""
    from rapidfuzz import fuzz, process

    ids = [c.id for c in chunks]
    source = wanted.split("#", 1)[0]
    if ids and source not in {c.source for c in chunks}:
        sources = sorted({c.source for c in chunks})
        near = [m for m, _, _ in process.extract(source, sources, scorer=fuzz.WRatio, limit=3)]
        lead = f"no chunk comes from {source!r} (closest sources: {', '.join(near)}); "
    else:
        lead = ""
    best = [m for m, score, _ in process.extract(wanted, ids, scorer=fuzz.WRatio, limit=3) if score >= 50]
    named = f"closest chunks: {', '.join(best)}; " if best else ""
    return f"{lead}{named}`workbench chunks` lists every chunk id (the heading is slugified: source#anchor)"


def _case_warnings(number: int, case: Case, doc_types: set[str] | None) -> list[Finding]:
    found = []
    if case.category not in KNOWN_CATEGORIES:
        found.append(Finding("warning", number, f"category {case.category!r} is not one of the known ones",
                             "fine if meant (reports group by any label); known: " + ", ".join(KNOWN_CATEGORIES)))
    if case.language not in RECOMMENDED_LANGUAGES:
        found.append(Finding("warning", number, f"language {case.language!r} is not en or ko",
                             "language_match only knows Korean and English (another code is judged as English), "
                             "and the pipeline answers in en or ko"))
    if case.draft:
        found.append(Finding("warning", number, "draft case, not reviewed yet",
                             'read the question and reference answer, fix them, then delete "draft": true'))
    if case.expected_retrieval and case.expected_relevant and not case.reference_contexts \
            and case.category not in NO_PASSAGE:
        found.append(Finding("warning", number, "expects retrieval but names no reference context",
                             "retrieval metrics skip this question: add the passages that answer it"))
    if case.reference_contexts and not case.expected_retrieval:
        found.append(Finding("warning", number, "has reference contexts but expected_retrieval is false",
                             "the references are not scored; set expected_retrieval to true if it needs them"))
    unknown = sorted(set(case.expected_doc_types) - (doc_types or set()) - {"cv"}) if doc_types else []
    if unknown:
        found.append(Finding("warning", number, f"expected_doc_types {unknown} are not sections of the index",
                             f"the index's doc_types: {', '.join(sorted(doc_types or ()))}"))
    return found


def _file_warnings(cases: list[tuple[int, Case]]) -> list[Finding]:
    found = []
    texts: dict[tuple[str, str], int] = {}
    for number, case in cases:
        key = (case.question.strip(), case.history_sha256)
        if key in texts:
            found.append(Finding("warning", number, f"same question and history as line {texts[key]}",
                                 "a repeated question weighs twice in every mean; reword or remove one"))
        texts.setdefault(key, number)
    # cases without a split get one when the file is loaded: count the splits they will have
    loaded = [case.model_copy() for _, case in cases]
    assign_splits(loaded)
    splits = Counter(case.split for case in loaded)
    if cases and not splits["test"]:
        found.append(Finding("warning", 0, "no test questions",
                             "`workbench eval` gates the test split: put about a fifth of the cases in test"))
    elif 0 < splits["test"] < SMALL_TEST_SPLIT:
        found.append(Finding("warning", 0, f"only {splits['test']} test questions",
                             "the gate then sees only large drops (each metric's MDE is in the eval report)"))
    return found


def check_file(path: Path, chunks: Sequence[Chunk] | None = None) -> tuple[list[Finding], int]:
    """Every finding, in line order, and the number of valid cases. Without `chunks` the
    reference contexts are not checked."""
    path = Path(path)
    if not path.exists():
        return [Finding("error", 0, f"{path} does not exist")], 0
    cases, problems = read_cases(path)
    if chunks is not None:
        problems += unresolved_references(cases, [c.id for c in chunks])
    found = [Finding("error", p.line, p.message, _fix_for(p, chunks)) for p in problems]
    doc_types = {c.doc_type for c in chunks} if chunks else None
    for number, case in cases:
        found += _case_warnings(number, case, doc_types)
    found += _file_warnings(cases)
    if not cases and not problems:
        found.append(Finding("error", 0, "no cases", "one JSON object per line (" + SCHEMA_HINT + ")"))
    return sorted(found, key=lambda f: (f.line, f.level != "error")), len(cases)
