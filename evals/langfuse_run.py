"""Record an evaluation run as a Langfuse dataset run (when Langfuse keys are set)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)
SCORES = ("score", "hit@5", "recall@5", "relevance_correct", "semantic_similarity", "rouge_l")


def record_dataset_run(settings, cases, frame, run_name: str, dataset_name: str = "workbench-questions") -> bool:
    """Upsert the dataset items, then log each answer under `run_name` with its scores.
    Failures are logged and never fail the evaluation."""
    try:
        from langfuse import Evaluation, Langfuse

        client = Langfuse(
            public_key=settings.langfuse_public_key.get_secret_value(),
            secret_key=settings.langfuse_secret_key.get_secret_value(),
            host=settings.langfuse_host,
        )
        client.create_dataset(name=dataset_name)
        for case in cases:
            client.create_dataset_item(
                dataset_name=dataset_name,
                id=case.id,
                input={"question": case.question, "history": case.history_dicts()},
                expected_output={"answer": case.reference_answer, "contexts": case.context_ids},
                metadata={"id": case.id, "category": case.category, "language": case.language, "split": case.split},
            )
        rows = frame.set_index("id")

        def task(*, item, **kwargs):
            # the answers were produced by the evaluation already; this links them to the items
            row = rows.loc[item.id]
            return {"answer": row["answer_text"], "sources": list(row["retrieved_ids"])}

        def scores(*, input, output, expected_output=None, metadata=None, **kwargs):
            item_id = (metadata or {}).get("id")
            row = rows.loc[item_id] if item_id in rows.index else None
            if row is None:
                return []
            return [Evaluation(name=name, value=float(row[name])) for name in SCORES
                    if name in row and row[name] == row[name]]

        dataset = client.get_dataset(dataset_name)
        dataset.items[:] = [item for item in dataset.items if item.id in rows.index]
        dataset.run_experiment(name="workbench eval", run_name=run_name, task=task, evaluators=[scores],
                               max_concurrency=4)
        client.flush()
        return True
    except Exception as exc:  # noqa: BLE001 - recording is best effort
        log.warning("could not record the Langfuse dataset run: %s", exc.__class__.__name__)
        log.debug("dataset run failure", exc_info=True)
        return False
