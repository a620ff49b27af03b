import json
from collections import Counter

import pytest

from evals.dataset import CATEGORIES, DatasetError, load_dataset
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
    unknown = GOOD | {"id": "x3", "category": "weather"}
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
    assert set(categories) == set(CATEGORIES)
    for category in categories:
        splits = Counter(c.split for c in dataset.cases if c.category == category)
        assert splits["train"] >= splits["test"] >= 1 and splits["dev"] >= 1, (category, splits)
    assert {c.language for c in dataset.cases} == {"en", "ko"}
    assert sum(1 for c in dataset.cases if c.history) >= 10
    frame = dataset.frame()
    assert len(frame) == len(dataset.cases) and "reference_contexts" in frame
