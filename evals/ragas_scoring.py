"""RAGAS metrics, imported only when scores are actually computed.

Non-LLM metrics (string similarity, ROUGE-L, ID-based context precision/recall)
always run. Judge metrics (faithfulness, response relevancy, context precision
and recall with reference, factual correctness) run when `RAG_JUDGE_LM` names a
LiteLLM model; a judge score that fails is recorded as missing and counted.

Scores are cached on disk keyed by metric and inputs, so an unchanged re-run does
not even import RAGAS.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NON_LLM = ("semantic_similarity", "string_similarity", "rouge_l", "id_context_precision", "id_context_recall")
JUDGE = ("faithfulness", "response_relevancy", "llm_context_precision", "llm_context_recall", "factual_correctness")


class ScoreCache:
    """metric + inputs → score, one JSON file (small: a few thousand entries)."""

    def __init__(self, path: Path | None):
        self.path = Path(path) if path else None
        self._data: dict[str, float | None] = {}
        if self.path and self.path.exists():
            try:
                self._data = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError):
                self._data = {}
        self._dirty = False

    @staticmethod
    def key(metric: str, inputs: dict) -> str:
        blob = json.dumps([metric, inputs], sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(blob.encode()).hexdigest()

    def get(self, key: str):
        return self._data.get(key, "missing")

    def put(self, key: str, value: float | None) -> None:
        self._data[key] = value
        self._dirty = True

    def save(self) -> None:
        if self.path and self._dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._data))
            self._dirty = False


def _inputs(record: dict, metric: str) -> dict:
    """The exact inputs a metric reads from one question's record."""
    response, reference = record["answer_text"], record["reference_answer"]
    question, contexts = record["rewritten_query"], record["retrieved_texts"]
    return {
        "semantic_similarity": {"reference": reference, "response": response},
        "string_similarity": {"reference": reference, "response": response},
        "rouge_l": {"reference": reference, "response": response},
        "id_context_precision": {"retrieved": record["retrieved_ids"], "reference": record["reference_ids"]},
        "id_context_recall": {"retrieved": record["retrieved_ids"], "reference": record["reference_ids"]},
        "faithfulness": {"user_input": question, "response": response, "retrieved_contexts": contexts},
        "response_relevancy": {"user_input": question, "response": response},
        "llm_context_precision": {"user_input": question, "reference": reference, "retrieved_contexts": contexts},
        "llm_context_recall": {"user_input": question, "reference": reference, "retrieved_contexts": contexts},
        "factual_correctness": {"response": response, "reference": reference},
    }[metric]


def _applies(record: dict, metric: str) -> bool:
    if metric.startswith("id_context"):
        return bool(record["reference_ids"]) and bool(record["retrieved_ids"])
    if metric in ("faithfulness", "llm_context_precision", "llm_context_recall"):
        return bool(record["retrieved_texts"])
    return True


class _Scorers:
    """Builds the RAGAS metric objects on first use (the import costs seconds)."""

    def __init__(self, judge_lm: str | None, embedder=None, judge_kwargs: dict | None = None):
        self.judge_lm = judge_lm
        self.embedder = embedder
        self.judge_kwargs = judge_kwargs or {}
        self._built: dict[str, Any] | None = None

    def build(self) -> dict[str, Any]:
        if self._built is not None:
            return self._built
        import warnings

        from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore, SemanticSimilarity

        with warnings.catch_warnings():  # 0.4.3 points to a collections class it does not ship yet
            warnings.simplefilter("ignore", DeprecationWarning)
            from ragas.metrics import IDBasedContextPrecision, IDBasedContextRecall

        built: dict[str, Any] = {
            "semantic_similarity": SemanticSimilarity(embeddings=_RagasEmbedding(self.embedder)),
            "string_similarity": NonLLMStringSimilarity(),
            "rouge_l": RougeScore(rouge_type="rougeL", mode="fmeasure"),
            "id_context_precision": IDBasedContextPrecision(),
            "id_context_recall": IDBasedContextRecall(),
        }
        if self.judge_lm:
            built.update(self._judges())
        self._built = built
        return built

    def _judges(self) -> dict[str, Any]:
        import instructor
        import litellm
        from ragas.llms import llm_factory
        from ragas.metrics.collections import (
            AnswerRelevancy,
            ContextPrecisionWithReference,
            ContextRecall,
            FactualCorrectness,
            Faithfulness,
        )

        client = instructor.from_litellm(litellm.acompletion)
        assert self.judge_lm is not None  # checked when the scorer was configured
        llm = llm_factory(self.judge_lm, client=client, adapter="litellm", **self.judge_kwargs)
        judges: dict[str, Any] = {
            "faithfulness": Faithfulness(llm=llm),
            "llm_context_precision": ContextPrecisionWithReference(llm=llm),
            "llm_context_recall": ContextRecall(llm=llm),
            "factual_correctness": FactualCorrectness(llm=llm),
        }
        if self.embedder is not None:
            judges["response_relevancy"] = AnswerRelevancy(llm=llm, embeddings=_RagasEmbedding(self.embedder))
        return judges


def _RagasEmbedding(embedder):  # noqa: N802 - a class made on demand, after the lazy import
    from ragas.embeddings.base import BaseRagasEmbedding

    class WorkbenchEmbedding(BaseRagasEmbedding):
        """The workbench's own embedder behind RAGAS's embedding interface."""

        def embed_text(self, text: str, **kwargs) -> list[float]:
            return embedder.embed_passages([text])[0].tolist()

        async def aembed_text(self, text: str, **kwargs) -> list[float]:
            return self.embed_text(text)

    return WorkbenchEmbedding()


async def _score_one(scorer, metric: str, inputs: dict) -> float | None:
    if metric.startswith("id_context"):
        from ragas.dataset_schema import SingleTurnSample

        sample = SingleTurnSample(retrieved_context_ids=inputs["retrieved"], reference_context_ids=inputs["reference"])
        value = await scorer.single_turn_ascore(sample)
    else:
        value = (await scorer.ascore(**inputs)).value
    value = float(value)
    return None if math.isnan(value) else value


def _run(coroutine):
    """asyncio.run, also from code that already runs an event loop (notebooks, services)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def score_records(
    records: Sequence[dict],
    *,
    judge_lm: str | None = None,
    embedder=None,
    cache_path: Path | None = None,
    judge_kwargs: dict | None = None,
) -> tuple[list[dict[str, float]], dict[str, int]]:
    """RAGAS scores per record (NaN where a metric does not apply or failed) and,
    per judge metric, how many scores are missing because the judge failed."""
    cache = ScoreCache(cache_path)
    metrics = list(NON_LLM) + (list(JUDGE) if judge_lm else [])
    results = [{m: float("nan") for m in metrics} for _ in records]
    failures = {m: 0 for m in metrics}
    todo: list[tuple[int, str, dict, str]] = []
    for i, record in enumerate(records):
        for metric in metrics:
            if not _applies(record, metric):
                continue
            inputs = _inputs(record, metric)
            model = getattr(embedder, "name", "") if metric in ("semantic_similarity", "response_relevancy") else ""
            key = ScoreCache.key(f"{metric}@{judge_lm or ''}@{model}", inputs)
            cached = cache.get(key)
            if cached != "missing" and cached is not None:
                results[i][metric] = cached
            else:
                todo.append((i, metric, inputs, key))
    if todo:
        scorers = _Scorers(judge_lm, embedder, judge_kwargs).build()

        async def run_all():
            semaphore = asyncio.Semaphore(8)

            async def one(item):
                i, metric, inputs, key = item
                scorer = scorers.get(metric)
                if scorer is None:  # e.g. response relevancy without an embedder
                    return item, None, False
                async with semaphore:
                    try:
                        return item, await _score_one(scorer, metric, inputs), True
                    except Exception as exc:  # noqa: BLE001 - a failed judge score is counted, not fatal
                        log.warning("%s failed: %s", metric, exc.__class__.__name__)
                        return item, None, False

            return await asyncio.gather(*(one(item) for item in todo))

        for (i, metric, _, key), value, ok in _run(run_all()):
            if ok and value is not None:
                results[i][metric] = value
                cache.put(key, value)
            elif not ok:
                failures[metric] += 1
        cache.save()
    return results, {m: n for m, n in failures.items() if m in JUDGE or n}
