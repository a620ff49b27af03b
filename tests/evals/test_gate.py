"""The gate fails a real regression and lets noise through."""

import json

import numpy as np
import pandas as pd
import pytest

from evals.gate import compare, decide, load_baseline, question_changes, save_baseline
from evals.paired import minimum_detectable_effect, paired_bootstrap

CONFIG = {"bootstrap": {"samples": 2000, "confidence": 0.95, "seed": 1}, "tolerance": {"default": 0.02}}


def frame(values: dict[str, np.ndarray], n: int) -> pd.DataFrame:
    data = {"id": [f"q{i}" for i in range(n)], "answer_text": ["a"] * n, "category": ["c"] * n}
    return pd.DataFrame(data | values)


def test_a_degraded_program_fails_and_names_the_metric():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.6, 1.0, 60)
    hits = (rng.uniform(size=60) < 0.9).astype(float)
    baseline = frame({"score": base, "hit@5": hits}, 60)
    degraded = frame({"score": base - rng.uniform(0.05, 0.15, 60), "hit@5": hits * (rng.uniform(size=60) < 0.5)}, 60)
    results = {c.metric: c for c in compare(degraded, baseline, ["score", "hit@5"], CONFIG)}
    assert results["score"].regressed and results["hit@5"].regressed
    assert results["score"].high < 0


def test_noise_does_not_fail():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 1.0, 40)
    baseline = frame({"score": base}, 40)
    for seed in range(10):
        noisy = frame({"score": np.clip(base + np.random.default_rng(seed).normal(0, 0.03, 40), 0, 1)}, 40)
        (result,) = compare(noisy, baseline, ["score"], CONFIG)
        assert not result.regressed, result


def test_a_small_significant_drop_within_tolerance_passes():
    base = np.full(50, 0.8)
    baseline = frame({"score": base}, 50)
    (result,) = compare(frame({"score": base - 0.01}, 50), baseline, ["score"], CONFIG)
    assert result.high < 0 and not result.regressed  # significant, but smaller than the 0.02 tolerance


def test_bootstrap_interval_covers_the_mean():
    diffs = np.random.default_rng(3).normal(0.1, 0.2, 200)
    low, high = paired_bootstrap(diffs, 2000, 0.95, 0)
    assert low < diffs.mean() < high and high - low < 0.1


def test_only_shared_questions_and_values_are_paired(tmp_path):
    baseline = frame({"score": np.array([0.5, 0.5, np.nan])}, 3)
    current = frame({"score": np.array([0.5, 0.9, 0.1])}, 3).iloc[1:]
    (result,) = compare(current, baseline, ["score"], CONFIG)
    assert result.questions == 1 and result.delta == 0.4 and not result.regressed
    path = save_baseline(baseline, {"split": "test"}, ["score"], tmp_path / "b.json")
    loaded, summary = load_baseline(path)
    assert summary == {"split": "test"} and list(loaded["id"]) == ["q0", "q1", "q2"]
    changes = question_changes(current, baseline)
    assert list(changes["id"]) == ["q1"] and changes.iloc[0]["change"] == 0.4


def test_float_noise_of_a_recomputed_run_is_neither_better_nor_worse():
    base = np.linspace(0.2, 0.9, 30)
    baseline = frame({"semantic_similarity": base}, 30)
    rerun = frame({"semantic_similarity": base + 2e-16}, 30)
    [result] = compare(rerun, baseline, ["semantic_similarity"], CONFIG)
    assert not result.improved and not result.regressed
    assert result.low == result.high == 0.0


# -- a gate that cannot be fooled quietly ------------------------------------------------------

SHA = "a" * 64
SUMMARY = {"split": "test", "dataset": "datasets/questions.jsonl", "dataset_sha256": SHA}


def questions(n: int, **metrics) -> pd.DataFrame:
    """A run's frame: n questions with their text fingerprints and the given metric columns."""
    data = {"id": [f"q{i:02d}" for i in range(n)], "question": [f"question {i}?" for i in range(n)],
            "history_sha256": ["0" * 16] * n, "category": ["single-fact"] * n, "answer_text": ["an answer"] * n}
    return pd.DataFrame(data | metrics)


def gate(tmp_path, current, baseline, metrics, summary=SUMMARY, base_summary=SUMMARY, **kwargs):
    path = save_baseline(baseline, base_summary, metrics, tmp_path / "baseline.json")
    return decide(current, summary, path, metrics, config=kwargs.pop("config", DENSE_CONFIG), **kwargs)


DENSE_CONFIG = {"bootstrap": {"samples": 2000, "confidence": 0.95, "seed": 7},
                "tolerance": {"default": 0.02, "hit@1": 0.03}, "mde": {"power": 0.8}}


def dense_style_hit1() -> tuple[pd.DataFrame, pd.DataFrame]:
    """34 questions, 23 with passages (hit@1 NaN on the rest); three hits lost, two gained: −1/23 ≈ −0.043,
    what RAG_RETRIEVAL_MODE=dense did on the test split."""
    base = np.array([1.0] * 19 + [0.0] * 4 + [np.nan] * 11)
    now = base.copy()
    now[[0, 1, 2]] = 0.0
    now[[19, 20]] = 1.0
    return questions(34, **{"hit@1": now}), questions(34, **{"hit@1": base})


def test_a_dense_style_drop_within_noise_is_a_probable_regression_and_strict_fails(tmp_path):
    current, baseline = dense_style_hit1()
    outcome = gate(tmp_path, current, baseline, ["hit@1"])
    (hit1,) = outcome.comparisons
    assert hit1.delta == pytest.approx(-1 / 23) and hit1.low < 0 <= hit1.high  # the interval reaches zero
    assert hit1.probable and not hit1.regressed and hit1.verdict == "probable regression"
    assert outcome.status == "PASS" and "probable regression(s): hit@1" in outcome.line()
    strict = gate(tmp_path, current, baseline, ["hit@1"], strict=True)
    assert strict.failed and strict.line().startswith("GATE FAIL against ") and "fails under --strict" in strict.line()


def test_a_metric_numeric_in_the_baseline_and_nan_or_missing_now_is_a_regression(tmp_path):
    base = np.linspace(0.2, 0.9, 20)
    baseline = questions(20, score=base, id_context_precision=base)
    current = questions(20, score=base, id_context_precision=np.full(20, np.nan))  # what --top-k 0 does
    outcome = gate(tmp_path, current, baseline, ["score", "id_context_precision"])
    results = {c.metric: c for c in outcome.comparisons}
    assert results["id_context_precision"].regressed and results["id_context_precision"].missing == 20
    assert not results["score"].regressed
    assert outcome.failed and "1 regressed (id_context_precision)" in outcome.line()
    # a column that is gone altogether counts the same
    vanished = gate(tmp_path, questions(20, score=base), baseline, ["score", "id_context_precision"])
    assert [c.metric for c in vanished.regressions] == ["id_context_precision"]


def test_a_question_whose_text_changed_is_not_paired_by_its_id(tmp_path):
    base = np.linspace(0.2, 0.9, 20)
    baseline = questions(20, score=base)
    current = questions(20, score=base - np.r_[[0.7], np.zeros(19)])
    current.loc[0, "question"] = "a different question?"  # same id, new text: its low score is not a drop
    current.loc[1, "history_sha256"] = "f" * 16  # same words after another conversation
    outcome = gate(tmp_path, current, baseline, ["score"])
    assert outcome.pairing.text_changed == ["q00", "q01"] and len(outcome.pairing.ids) == 18
    assert outcome.comparisons[0].delta == 0 and outcome.status == "PASS"
    assert "18 paired, 0 regressed, 2 skipped (2 with changed text: q00, q01)" in outcome.line()


def test_a_baseline_of_another_dataset_is_refused_naming_both(tmp_path):
    baseline = questions(20, score=np.full(20, 0.8))
    other = questions(20, score=np.full(20, 0.8))
    other["question"] = [f"another question {i}?" for i in range(20)]  # same ids q00…q19, other questions
    mine = SUMMARY | {"dataset": "mine.jsonl", "dataset_sha256": "b" * 64}
    refused = gate(tmp_path, other, baseline, ["score"], summary=mine)
    assert refused.failed and not refused.comparisons
    line = refused.line()
    assert line.startswith("GATE FAIL against ") and "belongs to another dataset" in line
    assert "datasets/questions.jsonl" in line and "mine.jsonl" in line and SHA[:12] in line and "b" * 12 in line
    # without a baseline asked for, a foreign default baseline is skipped, loudly
    skipped = gate(tmp_path, other, baseline, ["score"], summary=mine, foreign_is_error=False)
    assert skipped.status == "SKIPPED" and "belongs to another dataset" in skipped.line()
    # a dataset that differs but mostly matches is compared on what matches, with a note
    edited = baseline.copy()
    edited.loc[0, "question"] = "reworded?"
    partial = gate(tmp_path, edited, baseline, ["score"], summary=mine)
    assert partial.status == "PASS" and len(partial.pairing.ids) == 19
    assert any("dataset_sha256" in note for note in partial.notes)


def test_no_baseline_for_the_split_is_announced(tmp_path):
    run = questions(10, score=np.full(10, 0.5))
    missing = decide(run, SUMMARY, tmp_path / "none.json", ["score"], config=DENSE_CONFIG)
    assert missing.line().startswith("GATE SKIPPED — no baseline for this split/dataset (")
    assert "does not exist" in missing.line()
    other_split = gate(tmp_path, run, run, ["score"], summary=SUMMARY | {"split": "dev"})
    assert other_split.status == "SKIPPED" and "'test' split's baseline and this run is 'dev'" in other_split.line()


def test_every_metric_gets_its_minimum_detectable_effect():
    rng = np.random.default_rng(0)
    diffs = rng.normal(0, 0.1, 40)
    mde, method = minimum_detectable_effect(diffs, rng.uniform(size=40), 0.95, 0.8)
    assert method == "paired" and mde == pytest.approx(2.8016 * diffs.std(ddof=1) / np.sqrt(40), rel=1e-3)
    values = np.array([0.0, 1.0] * 20)
    same, how = minimum_detectable_effect(np.zeros(40), values, 0.95, 0.8)  # identical runs: sd(diffs) = 0
    assert how.startswith("unpaired bound") and same == pytest.approx(2.8016 * np.sqrt(2) * values.std(ddof=1)
                                                                       / np.sqrt(40), rel=1e-3)
    ceiling, why = minimum_detectable_effect(np.zeros(34), np.ones(34), 0.95, 0.8)
    assert why == "ceiling: 4 of 34 questions must drop" and ceiling == pytest.approx(4 / 34)
    # the MDE is what the gate shows for each metric
    base = np.linspace(0.2, 0.9, 30)
    (c,) = compare(frame({"score": base}, 30), frame({"score": base}, 30), ["score"], CONFIG)
    assert c.mde > 0 and c.mde_method.startswith("unpaired bound")


def test_a_baseline_is_rounded_sorted_and_rewritten_byte_for_byte(tmp_path):
    run = questions(3, score=np.array([0.123456789, 0.5, np.nan]), latency_ms=[12.3, 45.6, 7.8])
    run = run.iloc[::-1]  # written in id order, whatever order the run came in
    summary = SUMMARY | {"seconds": 3.2, "cost": {"latency_ms_p50": 11.0, "lm_calls_per_question": 0.0},
                         "metrics": {"score": 1 / 3}, "gate": "SKIPPED", "regressions": []}
    path = save_baseline(run, summary, ["score", "latency_ms"], tmp_path / "b.json")
    text = path.read_text()
    data = json.loads(text)
    assert [q["id"] for q in data["questions"]] == ["q00", "q01", "q02"]
    assert data["questions"][0]["score"] == 0.1235 and data["questions"][2]["score"] is None
    assert "latency_ms" not in text and "seconds" not in text  # wall-clock times would churn every rewrite
    assert "gate" not in data["summary"] and "regressions" not in data["summary"]  # that run's verdict, not data
    assert data["summary"]["metrics"]["score"] == 0.3333 and list(data["summary"]) == sorted(data["summary"])
    again = save_baseline(run.iloc[::-1], summary, ["score", "latency_ms"], tmp_path / "c.json")
    assert again.read_text() == text
    # a run is compared at the baseline's precision: unrounded values of an unchanged run are no change
    (c,) = compare(run, load_baseline(path)[0], ["score"], CONFIG)
    assert c.delta == 0 and not c.improved and not c.regressed


def test_a_value_on_a_rounding_edge_is_written_as_the_run_is_compared(tmp_path):
    edge = 0.78125 + 1e-16  # 0.78125000000000011: its 10-digit JSON text rounds down, the value itself up
    run = questions(2, rouge_l=[edge, 0.5])
    path = save_baseline(run, SUMMARY, ["rouge_l"], tmp_path / "b.json")
    (c,) = compare(run, load_baseline(path)[0], ["rouge_l"], CONFIG)
    assert c.delta == 0 and c.mde_method.startswith("unpaired bound")


def test_a_run_records_its_git_commit_but_a_baseline_does_not(tmp_path):
    import json
    import subprocess

    import pandas as pd

    from evals.gate import save_baseline
    from evals.provenance import git_commit

    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert git_commit().removesuffix("+dirty") == head
    assert git_commit(tmp_path) is None  # not a checkout
    frame = pd.DataFrame({"id": ["q1"], "question": ["q"], "score": [1.0]})
    path = save_baseline(frame, {"split": "test", "git_commit": git_commit()}, ["score"], tmp_path / "b.json")
    assert "git_commit" not in json.loads(path.read_text())["summary"]


def test_a_rise_in_lm_calls_is_a_regression_and_a_fall_is_not():
    import pandas as pd

    from evals.gate import compare

    ids = [f"q{i}" for i in range(20)]
    base = pd.DataFrame({"id": ids, "question": ids, "lm_calls": [1.0] * 20})
    doubled = base.assign(lm_calls=[2.0] * 20)
    halved = base.assign(lm_calls=[0.0] * 10 + [1.0] * 10)
    rise = compare(doubled, base, ["lm_calls"])[0]
    fall = compare(halved, base, ["lm_calls"])[0]
    assert rise.lower_is_better and rise.regressed and rise.delta == -1.0
    assert not fall.regressed and fall.improved and fall.delta == 0.5
