"""Retrieval at scale: the store against exact NumPy search on synthetic vectors."""

from __future__ import annotations

import numpy as np

from bench.retrieval_scale import ExactNumpy, measure_size, run, synthetic_queries, synthetic_vectors


def test_synthetic_vectors_are_unit_length_and_reproducible():
    vectors = synthetic_vectors(500, dim=16)
    assert vectors.shape == (500, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, synthetic_vectors(500, dim=16))
    queries = synthetic_queries(vectors, 7)
    assert queries.shape == (7, 16) and np.allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)


def test_the_exact_baseline_finds_the_true_neighbours_and_respects_a_filter():
    vectors = synthetic_vectors(200, dim=8)
    types = ["a" if i % 2 else "b" for i in range(200)]
    exact = ExactNumpy(vectors, types)
    query = vectors[17]
    assert exact.search(query, 3)[0] == 17
    assert list(exact.search(query, 5)) == list(np.argsort(-(vectors @ query))[:5])
    assert all(types[i] == "b" for i in exact.search(query, 10, "b"))


def test_a_measured_size_reports_exact_recall_and_ratios(tmp_path):
    figures = measure_size(400, queries=20, native_queries=5, workdir=tmp_path)
    # the store answers exactly below its row cap, so it must agree with NumPy on every query
    assert figures["recall_at_10"] == 1.0 and figures["recall_at_10_filtered"] == 1.0
    assert figures["lancedb_native"]["recall_at_10"] == 1.0  # LanceDB's flat scan is exact too
    assert figures["chunks"] == 400 and figures["disk_mb"] > 0 and figures["build_s"] > 0
    assert figures["p50_ratio"] == round(figures["store"]["p50_ms"] / figures["exact"]["p50_ms"], 3)
    assert not list(tmp_path.iterdir())  # the temporary store is removed


def test_run_reports_the_worst_figures_over_sizes():
    result = run((300, 600), queries=10)
    assert [s["chunks"] for s in result["sizes"]] == [300, 600]
    assert result["retrieval_recall_vs_exact"] == min(
        min(s["recall_at_10"], s["recall_at_10_filtered"]) for s in result["sizes"])
    assert result["retrieval_p50_ratio_vs_exact"] == max(
        max(s["p50_ratio"], s["p50_ratio_filtered"]) for s in result["sizes"])
    assert result["met"] == (result["retrieval_recall_vs_exact"] >= 0.98
                             and result["retrieval_p50_ratio_vs_exact"] <= 2.0)
