"""`dataset check` explains each problem on its line, and says what to do."""

import json

from evals.dataset_check import check_file
from pipeline.providers.base import Chunk

CHUNKS = [
    Chunk(id="education.md#ms-in-robotics", source="education.md", doc_type="education", title="M.S. in Robotics",
          anchor="ms-in-robotics", text="Studied swarm robotics."),
    Chunk(id="education.md#bs-in-physics", source="education.md", doc_type="education", title="B.S. in Physics",
          anchor="bs-in-physics", text="Graduated from Lumen University."),
    Chunk(id="papers.md#swarm-coordination-with-sparse-signals", source="papers.md", doc_type="papers",
          title="Swarm Coordination with Sparse Signals", anchor="swarm-coordination-with-sparse-signals",
          text="A paper."),
]
GOOD = {
    "id": "x1", "question": "Where did you study?", "history": [], "language": "en", "category": "single-fact",
    "expected_relevant": True, "expected_retrieval": True, "expected_doc_types": ["education"],
    "reference_answer": "At Zephyr.", "reference_contexts": [{"source": "education.md", "heading": "M.S. in Robotics"}],
    "split": "test",
}


def write(tmp_path, *rows):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows), encoding="utf-8")
    return path


def by_line(findings):
    return {f.line: f for f in findings}


def test_a_reference_that_is_not_a_chunk_names_the_closest_ones(tmp_path):
    typo = GOOD | {"id": "x2", "reference_contexts": [{"source": "education.md", "heading": "MS in Robotic"}]}
    wrong_file = GOOD | {"id": "x3", "reference_contexts": ["paper.md#swarm-coordination"]}
    findings, valid = check_file(write(tmp_path, GOOD, typo, wrong_file), CHUNKS)
    errors = [f for f in findings if f.level == "error"]
    assert valid == 3 and [f.line for f in errors] == [2, 3]
    assert "'education.md#ms-in-robotic' is not a chunk" in errors[0].message
    assert "closest chunks: education.md#ms-in-robotics" in errors[0].fix and "workbench chunks" in errors[0].fix
    assert "no chunk comes from 'paper.md' (closest sources: papers.md" in errors[1].fix
    assert "papers.md#swarm-coordination-with-sparse-signals" in errors[1].fix


def test_schema_problems_say_what_to_do(tmp_path):
    missing = {k: v for k, v in GOOD.items() if k != "reference_answer"} | {"id": "x2"}
    bad_split = GOOD | {"id": "x3", "split": "holdout"}
    bad_history = GOOD | {"id": "x4", "history": [{"role": "bot", "parts": [{"text": "hi"}]}]}
    findings, _ = check_file(write(tmp_path, GOOD, missing, bad_split, bad_history, "{oops", GOOD), CHUNKS)
    lines = by_line(f for f in findings if f.level == "error")
    assert 'add "reference_answer"' in lines[2].fix
    assert "use train, dev or test" in lines[3].fix
    assert '"role": "user" or "model"' in lines[4].fix
    assert "invalid JSON" in lines[5].message and "one JSON object" in lines[5].fix
    assert "duplicate id 'x1' (first on line 1)" in lines[6].message


def test_unknown_categories_languages_and_drafts_are_warnings(tmp_path):
    own = GOOD | {"id": "x2", "category": "exhibitions", "language": "ja"}
    draft = GOOD | {"id": "x3", "question": "Where else?", "draft": True}
    no_refs = GOOD | {"id": "x4", "question": "And then?", "reference_contexts": [], "expected_doc_types": ["blog"]}
    findings, valid = check_file(write(tmp_path, GOOD, own, draft, no_refs), CHUNKS)
    assert valid == 4 and all(f.level == "warning" for f in findings)
    messages = [(f.line, f.message) for f in findings]
    assert (2, "category 'exhibitions' is not one of the known ones") in messages
    assert (2, "language 'ja' is not en or ko") in messages
    assert (2, "same question and history as line 1") in messages
    assert (3, "draft case, not reviewed yet") in messages
    assert (4, "expects retrieval but names no reference context") in messages
    assert (4, "expected_doc_types ['blog'] are not sections of the index") in messages
    assert (0, "only 4 test questions") in messages


def test_without_an_index_references_are_not_checked(tmp_path):
    findings, valid = check_file(write(tmp_path, GOOD | {"reference_contexts": ["nowhere.md#x"]}), None)
    assert valid == 1 and not [f for f in findings if f.level == "error"]
    missing, _ = check_file(tmp_path / "none.jsonl")
    assert missing[0].level == "error" and "does not exist" in missing[0].message


def test_the_committed_datasets_check_clean_against_their_corpora(tmp_path):
    from evals.dataset import DEFAULT_DATASET
    from pipeline.corpus import load_corpus
    from tests.conftest import DEMO_CORPUS, ROOT

    for dataset, corpus in ((DEFAULT_DATASET, DEMO_CORPUS), (ROOT / "datasets/second/questions.jsonl",
                                                             ROOT / "datasets/second/corpus")):
        findings, valid = check_file(dataset, load_corpus(corpus).chunks)
        assert valid >= 70 and findings == [], (dataset, [str(f) for f in findings])
