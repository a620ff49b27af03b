"""The gate fails a real regression and lets noise through."""

import numpy as np
import pandas as pd

from evals.gate import compare, load_baseline, paired_bootstrap, question_changes, save_baseline

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
