import json
from collections import Counter

import pytest

from evals.dataset import (
    DEMO_CATEGORIES,
    KNOWN_CATEGORIES,
    SCHEMA_FILE,
    DatasetError,
    case_json_schema,
    dataset_sha256,
    load_dataset,
)
from pipeline.corpus import load_corpus
from tests.conftest import DEMO_CORPUS

GOOD = {
    "id": "x1", "question": "Where did you study?", "history": [], "language": "en", "category": "single-fact",
    "expected_relevant": True, "expected_retrieval": True, "expected_doc_types": ["education"],
    "reference_answer": "At Zephyr.", "reference_contexts": [{"source": "education.md", "heading": "M.S. in Robotics"}],
    "split": "train",
}


def write(tmp_path, *rows):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows), encoding="utf-8")
    return path


def test_a_valid_case_resolves_its_contexts_to_chunk_ids(tmp_path):
    dataset = load_dataset(write(tmp_path, GOOD), chunk_ids=["education.md#ms-in-robotics"])
    assert dataset.cases[0].context_ids == ["education.md#ms-in-robotics"]


def test_problems_are_reported_with_line_numbers(tmp_path):
    missing = {k: v for k, v in GOOD.items() if k != "reference_answer"} | {"id": "x2"}
    unknown = GOOD | {"id": "x3", "category": "  "}
    bad_history = GOOD | {"id": "x4", "history": [{"role": "bot", "parts": [{"text": "hi"}]}]}
    with pytest.raises(DatasetError) as error:
        load_dataset(write(tmp_path, GOOD, missing, "{not json", unknown, bad_history, GOOD),
                     chunk_ids=["education.md#ms-in-robotics"])
    text = str(error.value)
    assert "line 2: reference_answer: Field required" in text
    assert "line 3: invalid JSON" in text
    assert "line 4: category" in text
    assert "line 5: history.0.role" in text
    assert "line 6: duplicate id 'x1'" in text


def test_references_must_exist_in_the_index(tmp_path):
    with pytest.raises(DatasetError, match="line 1: reference context 'education.md#ms-in-robotics' is not a chunk"):
        load_dataset(write(tmp_path, GOOD), chunk_ids=["papers.md#other"])


def test_the_demo_dataset_is_complete_and_stratified():
    chunk_ids = [c.id for c in load_corpus(DEMO_CORPUS).chunks]
    dataset = load_dataset(chunk_ids=chunk_ids)
    assert len(dataset.cases) >= 100
    categories = Counter(c.category for c in dataset.cases)
    assert set(DEMO_CATEGORIES) <= set(categories) <= set(KNOWN_CATEGORIES)
    for category in categories:
        splits = Counter(c.split for c in dataset.cases if c.category == category)
        assert splits["train"] >= splits["test"] >= 1 and splits["dev"] >= 1, (category, splits)
    assert {c.language for c in dataset.cases} == {"en", "ko"}
    assert sum(1 for c in dataset.cases if c.history) >= 10
    frame = dataset.frame()
    assert len(frame) == len(dataset.cases) and "reference_contexts" in frame


def test_categories_and_languages_are_recommended_not_enforced(tmp_path):
    own = GOOD | {"id": "x2", "category": "exhibitions", "language": "ja"}
    draft = GOOD | {"id": "x3", "draft": True}
    dataset = load_dataset(write(tmp_path, GOOD, own, draft))
    assert [c.category for c in dataset.cases] == ["single-fact", "exhibitions", "single-fact"]
    assert dataset.cases[1].language == "ja" and dataset.cases[2].draft
    with pytest.raises(DatasetError, match="line 1: language"):
        load_dataset(write(tmp_path, GOOD | {"language": "Korean please"}))


def test_the_dataset_hash_is_of_the_cases_not_the_file(tmp_path):
    other = GOOD | {"id": "x2", "question": "And your bachelor's?"}
    first = load_dataset(write(tmp_path, GOOD, other)).sha256
    reordered = load_dataset(write(tmp_path, "", json.dumps(other, indent=None, separators=(",", ":")), GOOD))
    assert reordered.sha256 == first  # line order and formatting are not content
    reviewed = load_dataset(write(tmp_path, GOOD | {"draft": True}, other))
    assert reviewed.sha256 == first  # nor is the review flag
    assert load_dataset(write(tmp_path, GOOD | {"question": "Where did you study?!"}, other)).sha256 != first
    assert dataset_sha256(reordered.cases) == first


def test_a_history_is_part_of_a_questions_identity(tmp_path):
    turns = [{"role": "user", "parts": [{"text": "Tell me about your M.S."}]},
             {"role": "model", "parts": [{"text": "I studied robotics."}]}]
    plain, followed = load_dataset(write(tmp_path, GOOD, GOOD | {"id": "x2", "history": turns})).cases
    assert plain.history_sha256 != followed.history_sha256 and len(plain.history_sha256) == 16


def test_unresolved_references_are_one_kind_of_problem(tmp_path):
    with pytest.raises(DatasetError) as error:
        load_dataset(write(tmp_path, GOOD, GOOD | {"id": "x2"}), chunk_ids=["papers.md#other"])
    assert error.value.only_unresolved_references and len(error.value.problems) == 2
    with pytest.raises(DatasetError) as mixed:
        load_dataset(write(tmp_path, GOOD, "{not json"), chunk_ids=["papers.md#other"])
    assert not mixed.value.only_unresolved_references


def test_the_json_schema_file_is_up_to_date():
    """datasets/questions.schema.json is generated: `workbench dataset schema --out datasets/questions.schema.json`."""
    assert json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) == case_json_schema(), (
        "regenerate it: workbench dataset schema --out datasets/questions.schema.json")


def test_cases_without_a_split_keep_theirs_as_the_file_grows_and_drafts_wait_for_review(tmp_path):
    rows = [{k: v for k, v in GOOD.items() if k != "split"} | {"id": f"{category}-{i}", "category": category}
            for category in ("single-fact", "follow-up") for i in range(20)]
    kept = GOOD | {"id": "mine", "category": "single-fact", "split": "test"}
    first = load_dataset(write(tmp_path, kept, *rows))
    assert first.assigned_splits == 40
    assert next(c for c in first.cases if c.id == "mine").split == "test"  # a split the file gives stays
    assert {c.split for c in first.cases} == {"train", "dev", "test"}
    assert 16 <= sum(c.split == "train" for c in first.cases) <= 32  # about three in five
    splits = {c.id: c.split for c in first.cases}
    # neither the file's order nor new cases move anyone: a test question never drifts into train
    grown = rows + [{k: v for k, v in GOOD.items() if k != "split"} | {"id": f"new-{i}"} for i in range(7)]
    again = load_dataset(write(tmp_path, *reversed(grown), kept))
    assert all(splits[c.id] == c.split for c in again.cases if c.id in splits)
    assert load_dataset(write(tmp_path, *reversed(rows), kept)).sha256 == first.sha256
    assert "40 case(s) had no split" in first.splits_note()
    assert load_dataset(write(tmp_path, GOOD)).splits_note() == ""
    # a case still marked draft is in the file, not in any split, and the note says so
    drafted = load_dataset(write(tmp_path, GOOD, GOOD | {"id": "d1", "draft": True}))
    assert [c.id for c in drafted.split("all")] == ["x1"] and drafted.split("train") == drafted.split("all")
    assert "1 case(s) still marked draft are left out" in drafted.splits_note()
