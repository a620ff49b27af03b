"""The pipeline's acceptance figures on the demo dataset, with the embedded defaults.

Retrieval and planning are deterministic (same embedder, same index), so these
are exact measurements, guarded here at the pipeline's goals.
"""

import json
from pathlib import Path

import pytest

from evals import acceptance
from evals.dataset import load_dataset

KEPT = Path(__file__).resolve().parent.parent / "datasets" / acceptance.ACCEPTANCE_FILE
# what the program's LM settings do not change (the served program and the unoptimized one differ in LM calls)
SITE_FIGURES = ("hit@1", "hit@5", "scored questions", "declined (off-topic, injection)", "greeting without retrieval",
                "korean answer has korean")


def kept(mode: str) -> dict:
    return json.loads(KEPT.read_text(encoding="utf-8"))[mode]["figures"]

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def figures(local_workbench):
    cases = load_dataset(chunk_ids=[c.id for c in local_workbench.store.chunks()]).cases
    frame = acceptance.run(local_workbench.answer, cases)
    return frame, acceptance.summarize(frame)


# measured on the 162 demo cases: en hit@1 0.870, hit@5 0.942; ko hit@1 0.795, hit@5 0.949. The dataset
# gained 24 conversation cases (standalone after history, after a declined turn, current status), and the
# language packs lost the demo's own names ("알토" → "Aalto"), which Korean questions about an English
# page cannot recover without them: Korean hit@1 is guarded at what general knowledge reaches.
# 168 cases (six asked in the third person and by name): en 0.877 / 0.945, ko 0.780 / 0.927 (the new Korean
# question by name about an English page, "서하늘 씨가 …", is one of the three Korean misses).
@pytest.mark.parametrize("language, hit1, hit5", [("en", 0.85, 0.94), ("ko", 0.78, 0.92)])
def test_retrieval_finds_the_reference_passages(figures, language, hit1, hit5):
    _, summary = figures
    assert summary.loc[language, "hit@5"] >= hit5
    assert summary.loc[language, "hit@1"] >= hit1


def test_the_figures_the_docs_show_are_todays(figures):
    """datasets/acceptance.json, which docs/evaluation.md shows, holds what the pipeline measures now."""
    _, summary = figures
    now, committed = acceptance.record(summary), kept("hybrid")
    changed = {f: (committed.get(f), now[f]) for f in SITE_FIGURES if committed.get(f) != now[f]}
    assert not changed, f"run `make accept` (it rewrites {KEPT.name} and the docs): {changed}"


def test_off_topic_and_injection_are_declined(figures):
    _, summary = figures
    assert summary.loc["en", "declined (off-topic, injection)"] >= 0.9
    assert summary.loc["ko", "declined (off-topic, injection)"] >= 0.9


def test_greetings_are_answered_without_retrieval(figures):
    _, summary = figures
    assert summary.loc["all", "greeting without retrieval"] >= 0.9


def test_every_korean_question_gets_korean(figures):
    frame, _ = figures
    korean = frame[frame["language"] == "ko"]
    assert korean["has_korean"].all(), korean[~korean["has_korean"]]["id"].tolist()


def test_the_local_lm_never_fails_to_parse(figures):
    frame, summary = figures
    assert summary.loc["all", "lm calls"] > 0  # the local LM is really in the loop
    assert frame["lm_fallbacks"].sum() == 0


def test_answers_stay_within_500_characters(local_workbench):
    result = local_workbench.answer("Tell me everything about your projects and papers", [])
    assert 0 < len(result.text) <= 500


def test_hybrid_beats_dense_on_hit_at_1(local_workbench, figures):
    _, hybrid = figures
    cases = load_dataset(chunk_ids=[c.id for c in local_workbench.store.chunks()]).cases
    program = local_workbench.program
    program.params.retrieval_mode = "dense"
    try:
        dense = acceptance.summarize(acceptance.run(local_workbench.answer, cases))
    finally:
        program.params.retrieval_mode = "hybrid"
    for language in ("en", "ko"):
        assert hybrid.loc[language, "hit@1"] > dense.loc[language, "hit@1"]
    now, committed = acceptance.record(dense), kept("dense")
    assert all(now[f] == committed[f] for f in ("hit@1", "hit@5")), "run `make accept`: the dense figures changed"
