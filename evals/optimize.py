"""Compile the program against the dataset: search on train, select on dev, save.

Two kinds of knobs are tuned:
- `ProgramParams` (retrieval weight and depth, planner thresholds, whether the local LM
  frames answers): a random search, each candidate scored by the headline `score`;
- the LM stages' prompts: DSPy's optimizers (`bootstrap` = BootstrapFewShot,
  `mipro` = MIPROv2, `gepa` = GEPA) over the stages named in `stages`, with a per-stage
  metric, optionally bootstrapping demonstrations with a stronger teacher LM.

Candidates are compiled on the train split; the winner is the best on dev. A
random-search winner is then pruned: each of its changes is undone in turn, and stays
undone when dev does not notice (a random neighbour moves every knob at once, and most
of those moves are noise). The optimized program is saved to `pipeline/artifacts/program.json`,
which every entry point uses.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.dataset import Case
from evals.gate import compare
from evals.runner import Evaluation, evaluate
from pipeline.lang import merge
from pipeline.site_cues import site_section_cues
from pipeline.turn import MAX_ANSWER_CHARS

OPTIMIZERS = ("random-search", "bootstrap", "mipro", "gepa")
STAGES = ("rewrite", "plan", "generate")
PREDICTORS = {"rewrite": ("rewrite.predict",), "plan": ("plan.predict",), "generate": ("generate.predict", "generate.frame")}


# dev differences smaller than this are noise on ~30 questions: among candidates this close to
# the best, the cheapest (fewest LM calls per question) wins
MIN_GAIN = 0.002


@dataclass
class Trial:
    name: str
    params: dict
    train_score: float
    dev_score: float | None = None
    dev_lm_calls: float | None = None


@dataclass
class OptimizeResult:
    optimizer: str
    stages: list[str]
    before_dev: Evaluation
    after_dev: Evaluation
    before_test: Evaluation | None
    after_test: Evaluation | None
    trials: list[Trial] = field(default_factory=list)
    seconds: float = 0.0
    lm_calls: int = 0
    chosen: str = "unoptimized"
    kept: dict = field(default_factory=dict)  # the winner's changes that survived pruning: name → (old, new)
    reverted: list = field(default_factory=list)  # the changes pruning undid
    declined: str = ""  # why the defaults are served: the best candidate's gain was one dev cannot detect, or none beat them
    splits: str = ""  # the splits the dataset did not have and were assigned (evals.dataset.assign_splits)
    pruned: str = ""  # the candidate pruning started from


def _score(evaluation: Evaluation) -> float:
    return float(evaluation.summary()["score"] or 0.0)


def lm_calls_per_question(evaluation: Evaluation) -> float:
    return float(evaluation.summary()["cost"]["lm_calls_per_question"])


def choose(contenders: Sequence[tuple[str, float, float]], min_gain: float = MIN_GAIN) -> str:
    """The winner among (name, dev score, LM calls per question), the unoptimized program first.

    Scores within `min_gain` of the best count as equal: among those the cheapest wins, and
    on equal cost the one listed first, so noise never replaces the served program.
    """
    best = max(score for _, score, _ in contenders)
    close = [(calls, order, name) for order, (name, score, calls) in enumerate(contenders)
             if score >= best - min_gain]
    return min(close)[2]


def detectable_gain(before: Evaluation, after: Evaluation, min_gain: float = MIN_GAIN) -> tuple[bool, str]:
    """Whether `after` (a candidate, on dev) is better than `before` by more than dev can tell from
    noise: a mean paired gain in score of at least the minimum detectable effect at this many dev
    questions (the gate's MDE, evals/gate.py) and at least `min_gain`. With ~20 dev questions a
    gain of a few thousandths is luck of the split, and serving it changes knobs for nothing."""
    [c] = compare(after.frame, before.frame, ["score"])
    needed = max(min_gain, c.mde if c.mde == c.mde else 0.0)
    why = (f"dev score {c.baseline:.3f} → {c.current:.3f} (Δ {c.delta:+.4f}, 95% CI [{c.low:+.4f}, {c.high:+.4f}]) "
           f"over {c.questions} questions; a gain dev can detect is at least {needed:.4f} (MDE {c.mde:.4f})")
    return c.delta >= needed, why


def sample_params(base, rng: random.Random, stages: Sequence[str], site_cues: Sequence[dict] = ()):
    """A random neighbour of `base` (a ProgramParams) in the knobs of the chosen stages;
    `site_cues` are pack overrides for this site (its own sections, pipeline.site_cues; the
    owner's reviewed glossary, pipeline.site_glossary), each a choice beside none."""
    params = copy.deepcopy(base)
    p = params.planner
    if ("plan" in stages or "rewrite" in stages) and site_cues:  # section cues plan, glossaries rewrite
        params.lang_overrides = merge(base.lang_overrides, rng.choice([{}, *site_cues]))
    if "plan" in stages:
        for name in ("greeting_min_sim", "identity_min_sim", "off_topic_min_sim", "injection_min_sim"):
            setattr(p, name, round(getattr(p, name) + rng.uniform(-0.03, 0.03), 3))
        p.label_margin = round(rng.uniform(0.0, 0.05), 3)
        p.relevance_min_score = round(p.relevance_min_score + rng.uniform(-0.03, 0.03), 3)
        params.hybrid_alpha = round(rng.uniform(0.4, 0.8), 2)
        params.section_filter_weight = rng.choice([0.25, 0.5, 0.75, 1.0])
        params.top_k = rng.choice([4, 5, 6])
    if "rewrite" in stages:
        params.follow_up_with_answer = rng.random() < 0.7
        params.follow_up_evidence_gain = rng.choice([0.015, 0.025, 0.035])
        params.follow_up_confident = round(base.follow_up_confident + rng.uniform(-0.02, 0.02), 3)
    if "generate" in stages:
        params.lead_from_lm = rng.random() < 0.5
        # how close in meaning passages must be to count as answering: the "my site doesn't say" threshold
        params.found_min_similarity = round(base.found_min_similarity + rng.uniform(-0.03, 0.03), 3)
        params.fact_chars = rng.choice([200, 280, 360, 440])
        params.fact_passages = rng.choice([1, 2, 3])
        params.fact_lines_top = rng.choice([1, 2, 3, 4])
        params.fact_lines_other = rng.choice([0, 1, 2])
    return params


def _flat(params) -> dict:
    """ProgramParams' scalar knobs by dotted name ("planner.label_margin")."""
    dump = params.model_dump(mode="json")
    flat = {k: v for k, v in dump.items() if k != "planner"}
    flat.update({f"planner.{k}": v for k, v in dump["planner"].items()})
    return flat


def _with(params, name: str, value):
    """A copy of `params` with one knob set."""
    params = copy.deepcopy(params)
    owner, _, attr = name.rpartition(".")
    setattr(params.planner if owner else params, attr, value)
    return params


def _candidate(original, params):
    """A copy of the program with other parameters (the stages read them per call; the copy
    shares the providers and the embedded exemplars, and gets its own packs when it amends them)."""
    return original.with_params(params)


def prune(bench, original, winner, run, dev, evaluation: Evaluation, say) -> tuple[object, Evaluation, dict, list]:
    """Undo the winner's changes one at a time; an undo stays when dev scores it within
    MIN_GAIN of the winner at no more LM calls per question. Returns the pruned program,
    its dev evaluation, the kept changes and the undone ones."""
    base, current = _flat(original.params), winner
    score, calls = _score(evaluation), lm_calls_per_question(evaluation)
    changed = [name for name, value in _flat(winner.params).items() if base.get(name) != value]
    reverted = []
    for name in changed:
        trial = _candidate(original, _with(current.params, name, base[name]))
        bench.program = trial
        say(f"pruning: is {name} = {_flat(current.params)[name]} needed?")
        result = run(dev)
        if _score(result) >= score - MIN_GAIN and lm_calls_per_question(result) <= calls:
            current, evaluation = trial, result
            reverted.append(name)
    final = _flat(current.params)
    kept = {name: (base[name], final[name]) for name in changed if name not in reverted}
    bench.program = current
    return current, evaluation, kept, reverted


def _stage_metric(stage: str) -> Callable:
    """DSPy metric for one stage's predictor, from the case's expectations."""

    def metric(example, prediction, trace=None):
        if stage == "plan":
            return float(bool(prediction.plan.relevant) == bool(example.expected_relevant))
        if stage == "rewrite":
            refs = set(example.context_ids)
            return float(bool(refs & {s.id for s in prediction.sources[:5]})) if refs else 1.0
        return float(prediction.trace.lm_fallbacks == 0 and len(prediction.text) <= MAX_ANSWER_CHARS)

    return metric


def _examples(cases: Sequence[Case]):
    import dspy

    return [
        dspy.Example(question=c.question, history=c.history_dicts(), expected_relevant=c.expected_relevant,
                     context_ids=c.context_ids, reference_answer=c.reference_answer).with_inputs("question", "history")
        for c in cases
    ]


def _compile_prompts(bench, optimizer: str, stages: Sequence[str], train: Sequence[Case], budget: int,
                     teacher_lm=None):
    """Run a DSPy optimizer over the LM predictors of `stages`; returns the compiled program."""
    import dspy

    program = bench.program
    names = [n for stage in stages for n in PREDICTORS[stage]]
    # freeze the predictors outside the chosen stages so the optimizer leaves them alone
    frozen = {name: pred for name, pred in program.named_predictors() if name not in names}
    for pred in frozen.values():
        pred._compiled = True
    metric = _stage_metric(stages[0]) if len(stages) == 1 else (
        lambda ex, pred, trace=None: sum(_stage_metric(s)(ex, pred, trace) for s in stages) / len(stages))
    trainset = _examples(train)
    with dspy.context(lm=bench.lm, adapter=dspy.JSONAdapter()):
        if optimizer == "bootstrap":
            teacher = {"lm": teacher_lm} if teacher_lm is not None else None
            compiler = dspy.BootstrapFewShot(metric=metric, max_bootstrapped_demos=min(4, budget),
                                             max_labeled_demos=0, teacher_settings=teacher)
            compiled = compiler.compile(program, trainset=trainset)
        elif optimizer == "mipro":
            compiler = dspy.MIPROv2(metric=metric, auto="light", num_threads=2, teacher_settings=teacher_lm and {"lm": teacher_lm})
            compiled = compiler.compile(program, trainset=trainset, requires_permission_to_run=False)
        elif optimizer == "gepa":
            reflection = teacher_lm or bench.lm
            compiler = dspy.GEPA(metric=lambda g, p, trace=None, pred_name=None, pred_trace=None: metric(g, p),
                                 auto="light", reflection_lm=reflection, num_threads=2)
            compiled = compiler.compile(program, trainset=trainset)
        else:
            raise ValueError(f"unknown optimizer {optimizer!r}")
    for pred in frozen.values():
        pred._compiled = False
    return compiled


def optimize(
    bench,
    train: Sequence[Case],
    dev: Sequence[Case],
    test: Sequence[Case] = (),
    *,
    optimizer: str = "random-search",
    stages: Sequence[str] = STAGES,
    budget: int = 12,
    seed: int = 0,
    concurrency: int = 4,
    teacher_lm=None,
    progress: Callable[[str], None] | None = None,
    cache_dir: Path | None = None,
    pack_additions: Sequence[dict] = (),
) -> OptimizeResult:
    """Search on train, select on dev; `bench.program` ends up as the chosen program.

    With `cache_dir` (RAG_CACHE_DIR) every evaluation keeps its scores and embeddings there,
    as `workbench eval` does: candidates ask mostly the same queries and give mostly the same
    answers, so only what a candidate changes is embedded and scored again.

    `pack_additions` are language-pack overrides the owner reviewed (`--glossary`): the random
    search offers each, alone and with the site's own section cues, as a choice beside none."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}")
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ValueError(f"unknown stage(s) {', '.join(sorted(unknown))}: choose from {', '.join(STAGES)}")
    started = time.perf_counter()
    say = progress or (lambda message: None)
    caches: dict[str, Any] = ({"score_cache": Path(cache_dir) / "scores.json", "embedding_cache": Path(cache_dir) / "embeddings.sqlite"}
              if cache_dir is not None else {})
    def run(cases):
        return evaluate(bench, cases, concurrency=concurrency, **caches)
    calls_before = _lm_calls(bench)

    say("evaluating the unoptimized program on dev")
    before_dev = run(dev)
    before_test = run(test) if test else None
    original = bench.program
    programs = {"unoptimized": original}
    dev_runs = {"unoptimized": before_dev}
    contenders = [("unoptimized", _score(before_dev), lm_calls_per_question(before_dev))]
    trials: list[Trial] = []

    if optimizer == "random-search":
        rng = random.Random(seed)
        site_cues = [cues for cues in (site_section_cues(original.doc_types, original.knowledge, inherit)
                                       for inherit in (False, True)) if cues]
        if site_cues:
            say(f"the site's own sections are a candidate: {', '.join(site_cues[0].get('en', {}).get('section_cues', {}))}")
        for addition in pack_additions:
            site_cues += [addition, *(merge(cues, addition) for cues in site_cues)]
        say("the unoptimized program on train")
        trials.append(Trial("unoptimized", original.params.model_dump(mode="json"), _score(run(train)),
                            contenders[0][1], contenders[0][2]))
        candidates = []
        index_of: dict[int, int] = {}
        best_train, search_started = trials[0].train_score, time.perf_counter()
        for i in range(budget):
            params = sample_params(original.params, rng, stages, site_cues)
            candidate = _candidate(original, params)
            bench.program = candidate
            left = ""
            if i:  # the candidates so far say how long the rest takes (three dev runs and pruning follow)
                each = (time.perf_counter() - search_started) / i
                left = f" · about {each * (budget - i):.0f} s of train runs left"
            say(f"candidate {i + 1}/{budget} on train · best train score so far {best_train:.3f}{left}")
            train_score = _score(run(train))
            best_train = max(best_train, train_score)
            trials.append(Trial(f"candidate {i + 1}", params.model_dump(mode="json"), train_score))
            index_of[i] = len(trials) - 1
            candidates.append((train_score, i, candidate))
        # the best few on train compete on dev: selection never sees test
        for _, i, candidate in sorted(candidates, key=lambda t: -t[0])[:3]:
            bench.program = candidate
            say(f"candidate {i + 1} on dev")
            evaluation = run(dev)
            trial = trials[index_of[i]]
            trial.dev_score, trial.dev_lm_calls = _score(evaluation), lm_calls_per_question(evaluation)
            programs[trial.name] = candidate
            dev_runs[trial.name] = evaluation
            contenders.append((trial.name, trial.dev_score, trial.dev_lm_calls))
    else:
        say(f"compiling {', '.join(stages)} with {optimizer}")
        compiled = _compile_prompts(bench, optimizer, stages, train, budget, teacher_lm)
        bench.program = compiled
        evaluation = run(dev)
        trials.append(Trial(optimizer, {}, float("nan"), _score(evaluation), lm_calls_per_question(evaluation)))
        programs[optimizer] = compiled
        dev_runs[optimizer] = evaluation
        contenders.append((optimizer, _score(evaluation), lm_calls_per_question(evaluation)))

    chosen = choose(contenders)
    best_program, after_dev = programs[chosen], dev_runs[chosen]
    others = [c for c in contenders if c[0] != "unoptimized"]
    kept_defaults = ""
    if chosen == "unoptimized" and others:
        name, score, _ = max(others, key=lambda c: c[1])
        kept_defaults = (f"the defaults are kept: no candidate beat them on dev (the best, {name}, scored "
                         f"{score:.3f} against {contenders[0][1]:.3f}, within {MIN_GAIN} or below)")
    kept: dict = {}
    reverted: list = []
    pruned = ""
    if optimizer == "random-search" and best_program is not original:
        pruned = chosen
        best_program, after_dev, kept, reverted = prune(bench, original, best_program, run, dev, after_dev, say)
    declined = ""
    if best_program is not original and lm_calls_per_question(after_dev) >= lm_calls_per_question(before_dev):
        # not cheaper: it has to be better, by more than dev can tell from noise
        detectable, why = detectable_gain(before_dev, after_dev)
        if not detectable:
            declined = f"{chosen} not served: {why}"
            say(declined)
            best_program, after_dev, chosen = original, before_dev, "unoptimized"
    declined = declined or kept_defaults
    bench.program = best_program
    after_test = (run(test) if best_program is not original else before_test) if test else None
    return OptimizeResult(optimizer, list(stages), before_dev, after_dev, before_test, after_test, trials,
                          time.perf_counter() - started, _lm_calls(bench) - calls_before, chosen, kept, reverted,
                          declined, pruned=pruned)


def _lm_calls(bench) -> int:
    return len(getattr(bench.lm, "history", []) or [])
