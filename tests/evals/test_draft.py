"""`dataset draft`: offline drafts the loader accepts, each pointing at its chunk."""

from collections import Counter

from evals.dataset import Case, load_dataset
from evals.draft import draft_cases, load_templates, write_jsonl
from pipeline.corpus import load_corpus


def test_drafts_are_valid_cases_that_resolve_to_their_chunks(mini_corpus, tmp_path):
    chunks = load_corpus(mini_corpus).chunks
    cases = draft_cases(chunks)
    path = write_jsonl(cases, tmp_path / "draft.jsonl")
    dataset = load_dataset(path, chunk_ids=[c.id for c in chunks])  # every reference is a chunk of the index
    assert all(case.draft for case in dataset.cases) and len({c.id for c in dataset.cases}) == len(cases)
    facts = [c for c in dataset.cases if c.reference_contexts]
    assert Counter(c.language for c in facts) == {"en": len(chunks), "ko": len(chunks)}  # one per chunk and language
    paper = next(c for c in facts if c.language == "en" and c.expected_doc_types == ["papers"]
                 and "Swarm" in c.question)
    assert paper.question == 'What is your paper "Swarm Coordination with Sparse Signals" about?'
    assert paper.context_ids == ["papers.md#swarm-coordination-with-sparse-signals"]
    assert "ICRA 2022" in paper.reference_answer
    categories = Counter(c.category for c in dataset.cases)
    assert categories["greeting"] == 2 and categories["off-topic"] == 4 and categories["unanswerable"] == 6
    unanswerable = [c.question for c in dataset.cases if c.category == "unanswerable" and c.language == "en"]
    assert unanswerable == ["What is your phone number?", "How much is your salary?", "What is your home address?"]
    assert {"train", "dev", "test"} <= {c.split for c in dataset.cases}


def test_drafting_again_gives_the_same_ids(mini_corpus):
    chunks = load_corpus(mini_corpus).chunks
    assert [c["id"] for c in draft_cases(chunks)] == [c["id"] for c in draft_cases(list(reversed(chunks)))]


def test_templates_are_data_and_another_drafter_can_be_plugged_in(mini_corpus):
    templates = load_templates()
    assert {"en", "ko"} <= set(templates) and "{title}" in templates["en"]["fact"]["default"]
    chunks = load_corpus(mini_corpus).chunks

    def lm_like(chunks, templates):  # what an LM drafter returns: case dicts without split or draft flag
        return [{"id": "lm-1", "language": "en", "category": "multi-hop", "question": "Who co-wrote your ICRA paper?",
                 "expected_relevant": True, "expected_retrieval": True, "expected_doc_types": ["papers"],
                 "reference_answer": "Quill Tanaka.", "reference_contexts": [chunks[0].id]}]

    (case,) = draft_cases(chunks, templates, drafter=lm_like)
    assert case["draft"] is True and case["split"] == "train"
    Case.model_validate(case)
