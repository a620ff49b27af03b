"""Optimization on a tiny split with fakes: it improves dev, saves, and the saved program is served."""

import json
from pathlib import Path

import dspy
import pytest

from evals.dataset import load_dataset
from evals.optimize import optimize, sample_params
from evals.optimize_report import write_report
from pipeline.factory import Workbench, build_workbench
from pipeline.params import ProgramParams
from pipeline.persona import Persona
from pipeline.program import DigitalTwin, save_program
from pipeline.providers.base import LMCapabilities
from pipeline.settings import Settings
from tests.fakes import ScriptedEngine

REF = {"source": "education.md", "heading": "M.S. in Robotics"}
PAPER = {"source": "papers.md", "heading": "Swarm Coordination with Sparse Signals"}


def case(i, question, split, refs, category="single-fact", relevant=True):
    return {"id": f"t{i}", "question": question, "history": [], "language": "en", "category": category,
            "expected_relevant": relevant, "expected_retrieval": relevant, "expected_doc_types": [],
            "reference_answer": "An answer.", "reference_contexts": refs, "split": split}


@pytest.fixture
def tiny_dataset(tmp_path):
    rows = [
        case(1, "Who advised your robotics master's at Zephyr Institute?", "train", [REF]),
        case(2, "Which venue published the swarm coordination paper?", "train", [PAPER]),
        case(3, "What testbed did you use, ORCHID-7?", "train", [REF]),
        case(4, "Where did you study physics at Lumen University?", "dev",
             [{"source": "education.md", "heading": "B.S. in Physics"}]),
        case(5, "Who co-authored the ICRA swarm paper?", "dev", [PAPER]),
        case(6, "Tell me about the ORCHID-7 swarm robotics testbed", "test", [REF]),
    ]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    return path


@pytest.fixture
def bench(mini_index, hash_embedder, tmp_path):
    params = ProgramParams(top_k=0)  # a deliberately broken starting point: retrieval off
    params.planner.relevance_min_score = 0.0  # calibrated for e5; hash vectors score lower
    persona = Persona(name="Mina Park")
    program = DigitalTwin(mini_index, hash_embedder, persona, LMCapabilities(), params,
                          doc_types=mini_index.doc_types())
    lm = dspy.LM("fake/model", engine=ScriptedEngine({"lead": "Here you go:"}), cache=False, num_retries=0)
    settings = Settings(index_dir=mini_index.index_dir, cache_dir=tmp_path / "cache")
    return Workbench(settings, hash_embedder, mini_index, persona, program, lm, "unoptimized")


def test_random_search_improves_dev_and_the_saved_program_is_used(bench, tiny_dataset, tmp_path, monkeypatch):
    data = load_dataset(tiny_dataset, chunk_ids=[c.id for c in bench.store.chunks()])
    original = bench.program
    result = optimize(bench, data.split("train"), data.split("dev"), data.split("test"), budget=4, seed=3,
                      concurrency=2)
    assert result.after_dev.summary()["score"] > result.before_dev.summary()["score"]
    assert result.chosen != "unoptimized" and bench.program is not original
    assert bench.program.params.top_k > 0 and original.params.top_k == 0  # the original was not mutated
    assert all(t.train_score == t.train_score for t in result.trials)  # every candidate was scored on train
    assert "top_k" in result.kept  # pruning kept the change that fixed retrieval

    path = save_program(bench.program, tmp_path / "artifacts" / "program.json")
    report = write_report(result, tmp_path / "artifacts" / "optimize-report.md", path)
    assert "Dev split" in report.read_text() and "candidate" in report.read_text()
    assert "## Pruning" in report.read_text() and "`top_k`" in report.read_text()
    saved = json.loads(path.read_text())
    assert saved["workbench_params"]["top_k"] == bench.program.params.top_k

    # build_workbench (used by chat, eval and the service) loads artifacts/program.json when present
    monkeypatch.setattr("pipeline.factory.make_embedder", lambda settings: bench.embedder)
    settings = Settings(index_dir=bench.store.index_dir, cache_dir=tmp_path / "cache", program_path=path)
    served = build_workbench(settings, lm=bench.lm)
    assert served.program_source == str(path)
    assert served.program.params.top_k == bench.program.params.top_k
    unoptimized = build_workbench(settings, program_path="none", lm=bench.lm)
    assert unoptimized.program.params.top_k == ProgramParams().top_k


def test_sampled_parameters_stay_in_range():
    import random

    rng = random.Random(0)
    for _ in range(50):
        params = sample_params(ProgramParams(), rng, ["plan", "generate", "rewrite"])
        assert 0.4 <= params.hybrid_alpha <= 0.8 and params.top_k in (4, 5, 6)
        assert 0.0 <= params.planner.label_margin <= 0.05


def test_unknown_optimizer_or_stage_is_a_clear_error(bench, tiny_dataset):
    data = load_dataset(tiny_dataset, chunk_ids=[c.id for c in bench.store.chunks()])
    with pytest.raises(ValueError, match="--optimizer must be one of"):
        optimize(bench, data.split("train"), data.split("dev"), optimizer="annealing")
    with pytest.raises(ValueError, match="unknown stage"):
        optimize(bench, data.split("train"), data.split("dev"), stages=["retrieve"])


def test_selection_prefers_the_cheaper_of_candidates_within_noise():
    from evals.optimize import choose

    assert choose([("unoptimized", 0.90, 1.0), ("a", 0.95, 1.0)]) == "a"  # a real gain wins
    assert choose([("unoptimized", 0.900, 1.0), ("a", 0.901, 1.0), ("b", 0.8995, 0.0)]) == "b"  # same score, cheaper
    assert choose([("unoptimized", 0.900, 1.0), ("a", 0.9005, 1.0)]) == "unoptimized"  # noise changes nothing
    assert choose([("unoptimized", 0.90, 1.0), ("a", 0.95, 1.0), ("b", 0.9495, 1.0)]) == "a"


def test_pruning_keeps_only_the_changes_dev_notices():
    from evals.optimize import prune

    class Program:
        def __init__(self, params):
            self.params, self._signals = params, None

        def with_params(self, params):
            return Program(params)

    class Scored:  # what prune reads of an evaluation
        def __init__(self, program):
            self.score = 0.9 if program.params.top_k == 6 else 0.8  # only top_k matters on dev
            self.calls = 0.5 if program.params.lead_from_lm else 0.0

        def summary(self):
            return {"score": self.score, "cost": {"lm_calls_per_question": self.calls}}

    class Bench:
        program = None

    bench = Bench()
    original = Program(ProgramParams())
    winner = Program(ProgramParams(top_k=6, hybrid_alpha=0.71, lead_from_lm=False))
    winner.params.planner.label_margin = 0.04
    program, evaluation, kept, reverted = prune(bench, original, winner, lambda cases: Scored(bench.program), [],
                                                Scored(winner), lambda message: None)
    default = ProgramParams()
    # top_k earns its score, lead_from_lm its saved LM calls; the rest was noise and is undone
    assert kept == {"top_k": (default.top_k, 6), "lead_from_lm": (default.lead_from_lm, False)}
    assert sorted(reverted) == ["hybrid_alpha", "planner.label_margin"]
    assert program.params.hybrid_alpha == default.hybrid_alpha and program.params.top_k == 6
    assert evaluation.score == 0.9 and bench.program is program


def test_caches_make_the_search_embed_less_and_choose_the_same(bench, tiny_dataset, tmp_path):
    data = load_dataset(tiny_dataset, chunk_ids=[c.id for c in bench.store.chunks()])
    splits = data.split("train"), data.split("dev"), data.split("test")
    original, embedder = bench.program, bench.embedder
    before = embedder.texts_embedded
    plain = optimize(bench, *splits, budget=3, seed=3, concurrency=2)
    plain_texts = embedder.texts_embedded - before
    bench.program = original
    before = embedder.texts_embedded
    cached = optimize(bench, *splits, budget=3, seed=3, concurrency=2, cache_dir=tmp_path / "opt-cache")
    cached_texts = embedder.texts_embedded - before
    assert cached.chosen == plain.chosen and cached.kept == plain.kept
    assert [t.train_score for t in cached.trials] == [t.train_score for t in plain.trials]
    assert cached.after_dev.summary()["score"] == plain.after_dev.summary()["score"]
    assert cached_texts < plain_texts / 2  # each query and answer embedded once, not once per candidate
    assert (tmp_path / "opt-cache" / "embeddings.sqlite").exists() and (tmp_path / "opt-cache" / "scores.json").exists()


def test_a_gain_dev_cannot_detect_does_not_replace_the_served_program():
    import numpy as np
    import pandas as pd

    from evals.optimize import detectable_gain
    from evals.runner import Evaluation

    def run(scores):
        n = len(scores)
        return Evaluation(pd.DataFrame({"id": [f"q{i}" for i in range(n)], "question": [f"q{i}?" for i in range(n)],
                                        "score": scores}))

    rng = np.random.default_rng(0)
    before = rng.uniform(0.6, 1.0, 19)
    lucky = before.copy()
    lucky[[2, 7]] += [0.05, 0.03]  # +0.004 on average: what the second corpus's dev split showed
    served, why = detectable_gain(run(before), run(lucky))
    assert not served and "MDE" in why and "19 questions" in why
    better = before + 0.05 + rng.normal(0, 0.01, 19)  # every question gains
    assert detectable_gain(run(before), run(better))[0]


def test_a_program_optimized_for_an_index_is_served_with_it_and_refused_with_another(bench, tmp_path, monkeypatch,
                                                                                     caplog):
    from pipeline.factory import INDEX_PROGRAM, ProgramFileError, index_fingerprint

    monkeypatch.setattr("pipeline.factory.make_embedder", lambda settings: bench.embedder)
    index_dir = Path(bench.store.index_dir)
    bench.program.params = bench.program.params.model_copy(update={"top_k": 6})
    here = index_fingerprint(bench.store.chunks())
    own = save_program(bench.program, index_dir / INDEX_PROGRAM, {"index_fingerprint": here, "dataset": "d.jsonl"})
    settings = Settings(index_dir=index_dir, cache_dir=tmp_path / "cache")
    served = build_workbench(settings, lm=bench.lm)  # no program asked for: the index's own
    assert served.program_source.endswith(INDEX_PROGRAM) and served.program.params.top_k == 6
    assert build_workbench(settings, program_path="none", lm=bench.lm).program.params.top_k == ProgramParams().top_k

    # the same program bound to another index: asked for by name, a clear error; found beside the index
    # (the site changed since it was tuned), the defaults, said in the log
    save_program(bench.program, own, {"index_fingerprint": "0123456789abcdef", "dataset": "d.jsonl"})
    with pytest.raises(ProgramFileError, match="optimized for another index.*workbench optimize --index"):
        build_workbench(settings, program_path=own, lm=bench.lm)
    with caplog.at_level("WARNING"):
        fallback = build_workbench(settings, lm=bench.lm)
    assert fallback.program.params.top_k == ProgramParams().top_k and "another index" in fallback.program_source
    assert "serving the unoptimized program" in caplog.text


def test_the_sites_own_section_cues_are_a_choice_of_the_search_beside_none():
    import random

    rng = random.Random(1)
    site = {"en": {"section_cues": {"talks": ["talk"]}}}
    base = ProgramParams(lang_overrides={"en": {"glossary": {"thesis": "dissertation"}}})
    seen = [sample_params(base, rng, ["plan"], [site]).lang_overrides for _ in range(20)]
    assert base.lang_overrides in seen  # none is a choice: the packs as they are
    with_cues = [o for o in seen if "section_cues" in o.get("en", {})]
    assert with_cues and all(o["en"]["glossary"] == {"thesis": "dissertation"} for o in with_cues)  # merged, kept
    assert all(sample_params(base, rng, ["generate"], [site]).lang_overrides == base.lang_overrides
               for _ in range(5))  # a knob of the plan stage only


def test_an_owners_glossary_is_offered_to_the_search_and_its_choice_is_reported(bench, tiny_dataset, tmp_path):
    data = load_dataset(tiny_dataset, chunk_ids=[c.id for c in bench.store.chunks()])
    glossary = {"en": {"glossary": {"orchid-7": "testbed"}}}
    result = optimize(bench, data.split("train"), data.split("dev"), budget=6, seed=1, concurrency=2,
                      stages=["rewrite"], pack_additions=[glossary])
    offered = [t for t in result.trials if (t.params.get("lang_overrides") or {}).get("en", {}).get("glossary")]
    assert offered, "no candidate tried the owner's glossary"
    path = write_report(result, tmp_path / "optimize-report.md", tmp_path / "program.json")
    assert "1 glossary entries" in path.read_text()
