"""Per-question metrics that need no judge, and the headline score.

Every metric is a number in [0, 1] per question, or NaN where it does not apply
(for example retrieval metrics on a greeting). Aggregates are means over the
questions where a metric applies, so a missing value is never averaged as zero.
"""

from __future__ import annotations

import math
import re
from typing import Iterable, Sequence

from pipeline.text import contains_korean, detect_language

NAN = float("nan")
K = 5

# metric → weight in the headline score (per question: the weighted mean of the
# metrics that apply to that question; overall: the mean over questions)
SCORE_WEIGHTS: dict[str, float] = {
    "recall@5": 2.0,
    "mrr": 1.0,
    "relevance_correct": 1.5,
    "retrieval_correct": 1.0,
    "semantic_similarity": 1.0,
    "rouge_l": 0.5,
    "language_match": 1.0,
    "refusal_correct": 1.5,
    "says_unknown": 1.5,
    "length_ok": 0.5,
    "html_safe": 1.0,
}

# metrics where lower is better are not in the score; listed for the gate's direction
LOWER_IS_BETTER = {"latency_ms", "lm_calls", "lm_tokens"}

_UNKNOWN = re.compile(
    r"doesn't say|does not say|couldn't find|could not find|don't have|do not have|not (listed|mentioned|on my site)"
    r"|나와 있지 않|찾지 못|없어요|정보가 없|알 수 없",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")
_OWN_ANCHOR = re.compile(r'^<a href="[^"<>]*">$|^</a>$')


def retrieval_metrics(ranked: Sequence[str], relevant: Iterable[str], k: int = K) -> dict[str, float]:
    """hit@1, hit@k, recall@k, MRR and nDCG@k of a ranked list of chunk ids."""
    refs = set(relevant)
    if not refs:
        return {"hit@1": NAN, f"hit@{k}": NAN, f"recall@{k}": NAN, "mrr": NAN, f"ndcg@{k}": NAN}
    top = list(ranked[:k])
    first = next((i for i, cid in enumerate(ranked) if cid in refs), None)
    dcg = sum(1.0 / math.log2(i + 2) for i, cid in enumerate(top) if cid in refs)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(refs), k)))
    return {
        "hit@1": float(bool(top) and top[0] in refs),
        f"hit@{k}": float(bool(refs & set(top))),
        f"recall@{k}": len(refs & set(top)) / len(refs),
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        f"ndcg@{k}": dcg / ideal if ideal else NAN,
    }


def doc_type_f1(predicted: Sequence[str], expected: Sequence[str]) -> float:
    """F1 of the plan's section filter against the expected sections (NaN when none expected)."""
    expected_set, predicted_set = set(expected) - {"cv"}, set(predicted)
    if not expected_set:
        return NAN
    if not predicted_set:
        return 0.0
    overlap = len(expected_set & predicted_set)
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted_set), overlap / len(expected_set)
    return 2 * precision * recall / (precision + recall)


def says_unknown(text: str) -> bool:
    return bool(_UNKNOWN.search(text))


def html_safe(html: str) -> bool:
    """Only our own site-map anchors may appear as markup."""
    return all(_OWN_ANCHOR.match(tag) for tag in _TAG.findall(html))


def language_match(text: str, language: str) -> bool:
    if language == "ko":
        return contains_korean(text)
    return detect_language(text) == "en"


def behaviour_metrics(case, answer_html: str, answer_text: str, declined: bool, retrieved: bool,
                      max_chars: int = 500) -> dict[str, float]:
    """Plan decisions and answer checks that apply to every question."""
    category = case.category
    out = {
        "relevance_correct": float(declined != case.expected_relevant),
        "retrieval_correct": float(retrieved == (case.expected_retrieval and case.expected_relevant)),
        "language_match": float(language_match(answer_text, case.language)),
        "length_ok": float(len(answer_text) <= max_chars),
        "html_safe": float(html_safe(answer_html)),
        "refusal_correct": NAN,
        "says_unknown": NAN,
    }
    if category in ("off-topic", "prompt-injection"):
        out["refusal_correct"] = float(declined)
    if category == "unanswerable":
        out["says_unknown"] = float(says_unknown(answer_text))
    return out


def question_score(row: dict) -> float:
    """Weighted mean of the score metrics that apply to this question."""
    total = weight = 0.0
    for metric, w in SCORE_WEIGHTS.items():
        value = row.get(metric, NAN)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        total += w * float(value)
        weight += w
    return total / weight if weight else NAN
