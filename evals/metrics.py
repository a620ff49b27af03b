"""Per-question metrics that need no judge, and the headline score.

Every metric is a number in [0, 1] per question, or NaN where it does not apply
(for example retrieval metrics on a greeting). Aggregates are means over the
questions where a metric applies, so a missing value is never averaged as zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from importlib import resources

import yaml

from pipeline.text import contains_korean, detect_language, keyword_tokens

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
    "not_denied": 1.0,
    "fact@240": 1.0,
    "length_ok": 0.5,
    "html_safe": 1.0,
}

# costs: not in the score; the gate holds them against a rise (wall-clock latency is not gated: it
# differs on every run and machine)
LOWER_IS_BETTER = {"latency_ms", "lm_calls", "lm_tokens"}
GATED_COSTS = ("lm_calls", "lm_tokens")

_JUDGING = yaml.safe_load(resources.files("evals").joinpath("data", "judging.yaml").read_text(encoding="utf-8"))
_NEGATION = {lang: re.compile("|".join(re.escape(w) if re.search(r"[\uac00-\ud7a3]", w) else rf"(?<![\w']){re.escape(w)}\b"
                                          for w in words), re.IGNORECASE)
             for lang, words in _JUDGING["negation"].items()}
FACT_WINDOW = 240  # the asked fact should be within the answer's first 240 characters


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


def first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "")


def says_unknown(text: str) -> bool:
    """The answer's first sentence says "no" (any wording: a negation word of either language)."""
    first = re.split(r"(?<=[.!?])\s", first_line(text), maxsplit=1)[0]
    return any(pattern.search(first) for pattern in _NEGATION.values())


class _Markup(HTMLParser):
    """Collects every tag and attribute an HTML parser sees (what a browser would build)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))


def html_safe(html: str) -> bool:
    """What a browser would build from the answer holds only links: `<a href>` to a site path or an
    http(s) URL, no other element, attribute or scheme (parsed, not pattern-matched)."""
    parser = _Markup()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        if tag != "a" or [name for name, _ in attrs] != ["href"]:
            return False
        href = (attrs[0][1] or "").strip().lower()
        if any(href.startswith(s) for s in _JUDGING["unsafe_schemes"]) or href.startswith("//"):
            return False
    return True


def language_match(text: str, language: str) -> bool:
    """The answer's first line is in the visitor's language (what the visitor reads first)."""
    line = first_line(text)
    if language == "ko":
        return contains_korean(line)
    return detect_language(line) == "en"


def fact_recall(answer_text: str, reference: str, question: str, language: str,
                window: int = FACT_WINDOW) -> float:
    """How much of the reference answer's own content (words not in the question) appears in the
    answer's first `window` characters; NaN when the reference adds nothing, or is written in
    another language than the answer quotes (no shared words to count)."""
    wanted = set(keyword_tokens(reference)) - set(keyword_tokens(question))
    wanted = {w for w in wanted if len(w) > 1}
    head = answer_text[:window]
    if not wanted or contains_korean(reference) != contains_korean(head):
        return NAN
    return len(wanted & set(keyword_tokens(head))) / len(wanted)


def chat_consistency(case, chat: dict) -> float:
    """1 when a question's answer in the chat (`chat`: its record, with the `alone_*` answer of the
    same question asked by itself) is as good as its answer alone: the same decision
    (declined or not), the same top entry (or, in the chat, another of the reference entries), and
    no fewer of the reference answer's facts in the first 240 characters; else 0."""
    if bool(chat["declined"]) != bool(chat["alone_declined"]):
        return 0.0
    top = (chat["retrieved_ids"] or [""])[0]
    if top != chat["alone_top"] and top not in case.context_ids:
        return 0.0
    if case.reference_answer:
        in_chat = fact_recall(chat["answer_text"], case.reference_answer, case.question, case.language)
        by_itself = fact_recall(chat["alone_answer_text"], case.reference_answer, case.question, case.language)
        if not math.isnan(in_chat) and not math.isnan(by_itself) and in_chat < by_itself - 1e-9:
            return 0.0
    return 1.0


def behaviour_metrics(case, answer_html: str, answer_text: str, declined: bool, retrieved: bool,
                      max_chars: int) -> dict[str, float]:
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
        "not_denied": NAN,
        "fact@240": NAN,
    }
    if category in ("off-topic", "prompt-injection"):
        out["refusal_correct"] = float(declined)
    if category == "unanswerable":
        out["says_unknown"] = float(says_unknown(answer_text))
    elif case.expected_relevant and case.expected_retrieval and case.context_ids:
        # an answerable question: the answer must not open by denying it, and should lead with the fact
        out["not_denied"] = float(not says_unknown(answer_text))
        out["fact@240"] = fact_recall(answer_text, case.reference_answer, case.question, case.language)
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
