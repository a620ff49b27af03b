"""Run the program over dataset cases and score every answer.

`evaluate()` answers the cases with bounded concurrency, computes the judge-free
metrics, the RAGAS metrics (plus judge metrics when configured) and the headline
score, and returns one row per question plus the aggregates.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evals import metrics
from evals.dataset import Case

# the metrics the report, the gate and the summary show, in this order
REPORTED = (
    "score",
    "hit@1", "hit@5", "recall@5", "mrr", "ndcg@5", "id_context_precision", "id_context_recall",
    "relevance_correct", "retrieval_correct", "doc_type_f1", "rewrite_hit@5",
    "semantic_similarity", "string_similarity", "rouge_l",
    "language_match", "refusal_correct", "says_unknown", "not_denied", "fact@240", "chat_consistency", "length_ok",
    "html_safe",
    "faithfulness", "response_relevancy", "llm_context_precision", "llm_context_recall", "factual_correctness",
)
COST = ("latency_ms", "lm_calls", "lm_tokens")
WIDGET_HISTORY = 50  # the site's widget keeps (and sends) this many history entries


def _turn(role: str, text: str) -> dict:
    return {"role": role, "parts": [{"text": text}]}


@dataclass
class Evaluation:
    frame: pd.DataFrame  # one row per question
    judge_failures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict:
        return summarize(self.frame, self.judge_failures)


def _answer_record(bench, case: Case, texts: dict[str, str], history: list[dict] | None = None) -> dict:
    started = time.perf_counter()
    answer = bench.answer(case.question, case.history_dicts() if history is None else history)
    elapsed = (time.perf_counter() - started) * 1000
    out = answer.to_json(full=True)  # the one serialisation of an answer
    ranked = [s["id"] for s in out["sources"]]
    return {
        "id": case.id,
        "split": case.split,
        "category": case.category,
        "language": case.language,
        "question": case.question,
        "reference_answer": case.reference_answer,
        "answer": out["response"],
        "answer_text": out["text"],
        "answer_kind": out["kind"],
        "rewritten_query": out["query"]["text"],
        "search_query": out["retrieval"]["search_query"],
        "retrieved_ids": ranked,
        "retrieved_texts": [texts.get(cid, "") for cid in ranked],
        "reference_ids": case.context_ids,
        "declined": not out["plan"]["relevant"],
        "retrieved": bool(ranked),
        "plan_doc_types": list(out["plan"]["doc_types"]),
        "history_turns": len(case.history) if history is None else len(history),
        "latency_ms": elapsed,
        "lm_calls": out["lm_calls"],
        "lm_tokens": out["lm_tokens"],
        "lm_fallbacks": out["lm_fallbacks"],
        **{f"ms_{stage}": ms for stage, ms in out["timings_ms"].items()},
    }


def _judge_free(case: Case, record: dict, max_chars: int) -> dict:
    row = metrics.retrieval_metrics(record["retrieved_ids"], case.context_ids if case.expected_retrieval else [])
    row.update(metrics.behaviour_metrics(case, record["answer"], record["answer_text"], record["declined"],
                                         record["retrieved"], max_chars))
    row["doc_type_f1"] = (
        metrics.doc_type_f1(record["plan_doc_types"], case.expected_doc_types)
        if record["retrieved"] and case.expected_retrieval else math.nan
    )
    row["rewrite_hit@5"] = row["hit@5"] if record["history_turns"] else math.nan
    row["chat_consistency"] = metrics.chat_consistency(case, record) if "alone_answer_text" in record else math.nan
    return row


def evaluate(
    bench,
    cases: Sequence[Case],
    *,
    concurrency: int = 4,
    judge_lm: str | None = None,
    judge_kwargs: dict | None = None,
    score_cache: Path | None = None,
    progress: Callable[[], None] | None = None,
    conversation: bool = False,
    embedding_cache: Path | None = None,
) -> Evaluation:
    """Answer every case (at most `concurrency` at once) and score the answers.

    `conversation=True` replays the cases as ONE chat, in order, the way the site's widget
    sends it: each answer's rendered HTML goes back as the model's turn, the history keeps
    the last `WIDGET_HISTORY` entries, and a case's own history turns come just before it.

    `embedding_cache` (a SQLite file, `evals.embedding_cache`) keeps the vectors of the run's
    queries and of the semantic-similarity metric: the run answers with a shallow copy of the
    program whose `embedder` is a caching wrapper (the shared program is never changed: a service
    or another run may be using it)."""
    started = time.perf_counter()
    cache = None
    if embedding_cache is not None:
        from evals.embedding_cache import EmbeddingCache

        cache = EmbeddingCache(embedding_cache)
    try:
        return _evaluate(bench, cases, concurrency, judge_lm, judge_kwargs, score_cache, progress,
                         conversation, cache, started)
    finally:
        if cache is not None:
            cache.close()


def _evaluate(bench, cases, concurrency, judge_lm, judge_kwargs, score_cache, progress, conversation,
              cache, started) -> Evaluation:
    from evals.ragas_scoring import score_records

    texts = {c.id: c.text for c in bench.store.chunks()}
    program_embedder = getattr(bench.program, "embedder", None)
    metric_embedder, answering = bench.embedder, bench
    if cache is not None:
        from evals.embedding_cache import CachingEmbedder

        metric_embedder = CachingEmbedder(bench.embedder, cache)
        if program_embedder is not None:
            program = copy.copy(bench.program)  # shallow: the run's own embedder, every other part shared
            program.__dict__.pop("_without_lm", None)  # its LM-free twin is built again, with this embedder
            program.embedder = CachingEmbedder(program_embedder, cache)
            answering = dataclasses.replace(bench, program=program)
    records = _answer_all(answering, cases, concurrency, texts, progress, conversation)
    by_id = {c.id: c for c in cases}
    max_chars = bench.program.params.max_answer_chars
    rows = [{**record, **_judge_free(by_id[record["id"]], record, max_chars)} for record in records]
    ragas_scores, failures = score_records(
        records, judge_lm=judge_lm, embedder=metric_embedder, cache_path=score_cache, judge_kwargs=judge_kwargs
    )
    for row, scores in zip(rows, ragas_scores):
        row.update(scores)
        row["score"] = metrics.question_score(row)
    frame = pd.DataFrame(rows)
    return Evaluation(frame, failures, time.perf_counter() - started)


def _answer_all(bench, cases, concurrency, texts, progress, conversation) -> list[dict]:
    def one(case: Case, history: list[dict] | None = None) -> dict:
        record = _answer_record(bench, case, texts, history)
        if progress:
            progress()
        return record

    if conversation:
        records: list[dict] = []
        chat: list = []
        for case in cases:
            own = case.history_dicts()
            history = (chat + own)[-WIDGET_HISTORY:]
            record = one(case, history)
            records.append(record)
            chat = (history + [_turn("user", case.question), _turn("model", record["answer"])])[-WIDGET_HISTORY:]
        # each question alone too (with only its own history): `chat_consistency` holds the two side by side
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            alone = list(pool.map(lambda case: _answer_record(bench, case, texts), cases))
        for record, single in zip(records, alone):
            record.update(alone_top=(single["retrieved_ids"] or [""])[0], alone_answer_text=single["answer_text"],
                          alone_declined=single["declined"])
        return records
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return list(pool.map(one, cases))


def _mean(series: pd.Series) -> float | None:
    values = pd.to_numeric(series, errors="coerce").dropna()
    return float(values.mean()) if len(values) else None


def summarize(frame: pd.DataFrame, judge_failures: dict[str, int] | None = None) -> dict:
    """Headline score, each metric's mean and count, per category and split, and cost."""
    present = [m for m in REPORTED if m in frame.columns]
    overall = {m: _mean(frame[m]) for m in present}
    counts = {m: int(pd.to_numeric(frame[m], errors="coerce").notna().sum()) for m in present}

    def grouped(column: str) -> dict:
        return {
            str(key): {m: _mean(group[m]) for m in present} | {"questions": len(group)}
            for key, group in frame.groupby(column)
        }

    stage_columns = [c for c in frame.columns if c.startswith("ms_")]
    return {
        "score": overall.get("score"),
        "questions": len(frame),
        "metrics": overall,
        "counts": counts,
        "judge_failures": judge_failures or {},
        "by_category": grouped("category"),
        "by_split": grouped("split"),
        "by_language": grouped("language"),
        "cost": {
            "latency_ms_p50": float(frame["latency_ms"].median()),
            "latency_ms_p95": float(frame["latency_ms"].quantile(0.95)),
            "stage_ms_p50": {c.removeprefix("ms_"): float(frame[c].median()) for c in stage_columns},
            "lm_calls_per_question": float(frame["lm_calls"].mean()),
            "lm_tokens_per_question": float(frame["lm_tokens"].mean()),
            "lm_parse_fallbacks": int(frame["lm_fallbacks"].sum()),
        },
    }
