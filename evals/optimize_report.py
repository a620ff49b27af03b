"""The optimization report: settings, time, LM calls, each trial, pruning, dev and test before → after."""

from __future__ import annotations

from pathlib import Path

from evals.gate import compare
from evals.optimize import MIN_GAIN, OptimizeResult, lm_calls_per_question
from evals.runner import Evaluation


def _site_sections(params: dict) -> str:
    """The site's own section cues a trial used (pipeline.site_cues), as the report shows them."""
    overrides = params.get("lang_overrides") or {}
    cues = (overrides.get("en") or {}).get("section_cues", {})
    glossary = sum(len(o.get("glossary", {})) for o in overrides.values())
    shown = [f"{glossary} glossary entries"] if glossary else []
    if cues:
        # a doc type cued by more than its own word inherited a pack section's cues
        inherited = any(len(words) > 1 for words in cues.values())
        shown.insert(0, f"{len(cues)}: Korean glosses" + (", the packs' cues" if inherited else ""))
    return "; ".join(shown) or "–"


def _pruning_lines(result: OptimizeResult) -> list[str]:
    if not (result.kept or result.reverted):
        return []
    kept = [f"- `{name}`: {old} → {new}" for name, (old, new) in result.kept.items()] or ["- none"]
    return ["## Pruning", "", f"Each change of {result.pruned or result.chosen} was undone in turn on dev; an undo stayed when dev "
            f"lost less than {MIN_GAIN} and no LM calls were added."
            + (" The pruned program was then not served (see above)." if result.declined else ""),
            "", "Kept:", "", *kept, "",
            f"Undone: {', '.join(f'`{n}`' for n in result.reverted) or 'none'}", ""]


def write_report(result: OptimizeResult, path: Path, program_path: Path) -> Path:
    """pipeline/artifacts/optimize-report.md: settings, time, calls, before/after with CIs, per category."""
    import pandas as pd

    from evals.report import _markdown_table, comparison_frame

    def block(name: str, before: Evaluation | None, after: Evaluation | None) -> list[str]:
        if before is None or after is None:
            return []
        comparisons = compare(after.frame, before.frame, ["score", "hit@5", "mrr", "relevance_correct",
                                                          "semantic_similarity", "rouge_l", "refusal_correct"])
        b, a = before.summary(), after.summary()
        per_category = pd.DataFrame(
            [{"category": c, "questions": v["questions"], "before": v["score"],
              "after": a["by_category"].get(c, {}).get("score")} for c, v in sorted(b["by_category"].items())]
        )
        return [f"## {name}", "", f"score {b['score']:.3f} → {a['score']:.3f}", "",
                _markdown_table(comparison_frame(comparisons)), "", "Per category:", "",
                _markdown_table(per_category), ""]

    trials = pd.DataFrame([{"trial": t.name, "train score": t.train_score, "dev score": t.dev_score,
                            "dev LM calls/question": t.dev_lm_calls, "site sections": _site_sections(t.params)}
                           for t in result.trials])
    before_calls = lm_calls_per_question(result.before_dev)
    after_calls = lm_calls_per_question(result.after_dev)
    lines = [
        "# Optimization report", "",
        f"- optimizer: `{result.optimizer}`; stages: {', '.join(result.stages)}",
        f"- chosen: **{result.chosen}**, saved to `{program_path}`",
        *([f"- {result.declined}"] if result.declined else []),
        *([f"- splits: {result.splits}"] if result.splits else []),
        f"- time: {result.seconds:.0f} s; LM calls made: {result.lm_calls}",
        "- candidates are compiled on train and selected on dev; test is reported, never used to choose",
        f"- selection: dev scores within {MIN_GAIN} of the best count as equal; among those the fewest LM calls "
        "per question wins, the unoptimized program on a tie (it competes too); a winner that is not cheaper is "
        "served only when its dev gain is at least the score's minimum detectable effect on dev",
        f"- LM calls per dev question: {before_calls:.2f} → {after_calls:.2f}",
        "", "## Trials", "", _markdown_table(trials) if len(trials) else "(none)", "",
        *_pruning_lines(result),
        *block("Dev split (before → after, paired bootstrap 95% CI)", result.before_dev, result.after_dev),
        *block("Test split (before → after)", result.before_test, result.after_test),
    ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
