"""`workbench dataset from-langfuse`: visitors' real questions back into the dataset, as drafts.

The service traces every request (`service/tracing.py`). What a trace holds, and so what a
draft can be made of:

    chat | chat.stream    the root observation, tagged `service`
        input     {"message": the visitor's text (at most 2,000 characters), "history_turns": N}
        output    {"response": the answer as HTML, "sources": [{id, source, title, doc_type, score,
                   anchor}], "degraded": null or "retrieval"}
        metadata  language, label (the planner's), kind (fixed, extractive, not_found, lm, …), status
    rewrite   output: the standalone query (`text`, `follow_up`, `context`: what was carried along)
    plan      output: relevant, needs_retrieval, doc_types, label
    generate  output: {"text": the answer as plain text, "kind"}

What it does not hold is the conversation before the message: only how many turns it had. A
question that followed earlier turns is written with `"history": []` and a note saying so (and
how the service read it), for its author to add the turns or reword it to stand alone.

Each distinct question (the same text and history length asked again is one case, the latest
answer kept) becomes a draft case: `"draft": true`, split `train` (the test split stays
curated), the production answer as the reference answer, the retrieved passages as the
reference contexts (those the index no longer has are dropped), and the expectations read
from what production did: all of it to be reviewed, which `workbench dataset check` reminds
of. A `"langfuse"` key (ignored by the loader) records where each case came from.

Read with the official SDK (`Langfuse(...).api.observations.get_many`, the v2 observations
API, which SDK 4+ uses as its read model of traces). Failed requests (no answer) and degraded
answers (the search was down) are skipped and counted.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT_NAMES = ("chat", "chat.stream")
SERVICE_TAG = "service"
ROOT_FIELDS = "core,basic,io,metadata,trace_context"
STAGE_FIELDS = "core,basic,io"
STAGES = ("rewrite", "plan", "generate")
PAGE_SIZE = 100
MAX_TRACED_CHARS = 2000  # service/tracing.py: MAX_TEXT, texts longer are cut and end with "…"
CATEGORY_OF_LABEL = {"greeting": "greeting", "thanks": "greeting", "identity": "identity", "off_topic": "off-topic",
                     "injection": "prompt-injection"}
_RELATIVE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")


class TraceReadError(RuntimeError):
    """Langfuse could not be read (credentials, host, network): one line for the CLI."""


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """`7d`, `24h`, `30m`, `2w`, or an ISO date / date-time (UTC unless it says otherwise)."""
    if text is None or not text.strip():
        return None
    now = now or datetime.now(UTC)
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        unit_name = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]
        return now - timedelta(**{unit_name: amount})
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {text!r}: use 7d, 24h, 30m or a date such as 2025-06-01 "
                         "(or 2025-06-01T12:00:00+09:00)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass
class ProductionTurn:
    """One answered request, as its trace holds it."""

    trace_id: str
    started: datetime
    name: str
    message: str
    history_turns: int
    response_html: str
    sources: list[dict]
    language: str = ""
    label: str = ""
    kind: str = ""
    asked: int = 1  # how many traces asked the same (text, history length)
    stages: dict[str, Any] = field(default_factory=dict)  # stage name → its traced output


@dataclass
class Pulled:
    turns: list[ProductionTurn]
    traces: int = 0  # root observations read
    skipped: dict[str, int] = field(default_factory=dict)  # why → how many


def _json(value: Any) -> Any:
    """The v2 API returns inputs, outputs and metadata values as raw strings."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def read_client(settings):
    """The SDK's REST client for the project of `settings`' keys (no tracing started)."""
    from langfuse import Langfuse

    client = Langfuse(public_key=settings.langfuse_public_key.get_secret_value(),
                      secret_key=settings.langfuse_secret_key.get_secret_value(),
                      base_url=settings.langfuse_host, tracing_enabled=False)
    return client.api


def _root_filter(since: datetime | None) -> str:
    conditions: list[dict] = [
        {"type": "stringOptions", "column": "name", "operator": "any of", "value": list(ROOT_NAMES)},
        {"type": "boolean", "column": "isRootObservation", "operator": "=", "value": True},
        {"type": "arrayOptions", "column": "tags", "operator": "any of", "value": [SERVICE_TAG]},
    ]
    if since is not None:
        conditions.append({"type": "datetime", "column": "startTime", "operator": ">=",
                           "value": since.astimezone(UTC).isoformat().replace("+00:00", "Z")})
    return json.dumps(conditions)


def _call(what: str, function, **kwargs):
    try:
        return function(**kwargs)
    except Exception as exc:  # noqa: BLE001 - the SDK raises ApiError subclasses and httpx errors
        status = getattr(exc, "status_code", None)
        detail: str | None = {401: "the keys were refused (check LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY and LANGFUSE_HOST)",
                  403: "these keys may not read this project's traces",
                  404: "no such endpoint: is LANGFUSE_HOST a Langfuse server (v3 or later)?"}.get(status) if isinstance(status, int) else None
        raise TraceReadError(f"could not read {what} from Langfuse: "
                             f"{detail or (f'HTTP {status}' if status else exc.__class__.__name__)}") from exc


def _key(message: str, history_turns: int) -> str:
    return " ".join(message.split()).casefold() + f"\x1f{history_turns}"


def pull(api, *, limit: int = 50, since: datetime | None = None, page_size: int = PAGE_SIZE) -> Pulled:
    """The `limit` most recent distinct questions the service answered (since `since`), with
    the outputs of their rewrite, plan and generate stages."""
    pulled = Pulled([])
    skipped: dict[str, int] = {}
    by_key: dict[str, ProductionTurn] = {}
    cursor = None
    while True:
        page = _call("the service's traces", api.observations.get_many, fields=ROOT_FIELDS, limit=page_size,
                     cursor=cursor, filter=_root_filter(since))
        for root in page.data:
            pulled.traces += 1
            turn, why = _turn(root)
            if turn is None:
                skipped[why] = skipped.get(why, 0) + 1
                continue
            key = _key(turn.message, turn.history_turns)
            if key in by_key:  # newest first: the first one seen is the latest answer
                by_key[key].asked += 1
            elif len(by_key) < limit:
                by_key[key] = turn
        cursor = page.meta.cursor
        if not cursor or len(by_key) >= limit:  # `asked` counts the repeats among the pages read
            break
    for turn in by_key.values():
        turn.stages = _stage_outputs(api, turn.trace_id)
    pulled.turns = list(by_key.values())
    pulled.skipped = skipped
    return pulled


def _turn(root) -> tuple[ProductionTurn | None, str]:
    data = _json(root.input) or {}
    output = _json(root.output) or {}
    metadata = {k: _json(v) for k, v in (root.metadata or {}).items()}
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, str) or not message.strip():
        return None, "no message in the trace"
    if not isinstance(output, dict) or not output.get("response"):
        return None, "failed (no answer)"
    if output.get("degraded"):
        return None, f"degraded answer ({output['degraded']} unavailable)"
    if len(message) >= MAX_TRACED_CHARS and message.endswith("…"):
        return None, "message cut in the trace (over 2,000 characters)"
    try:
        turns = int(data.get("history_turns") or 0)
    except (TypeError, ValueError):
        turns = 0
    sources = [s for s in output.get("sources") or [] if isinstance(s, dict) and s.get("id")]
    return ProductionTurn(
        trace_id=root.trace_id or root.id, started=root.start_time, name=root.name or "", message=message,
        history_turns=turns, response_html=str(output["response"]), sources=sources,
        language=str(metadata.get("language") or ""), label=str(metadata.get("label") or ""),
        kind=str(metadata.get("kind") or ""),
    ), ""


def _stage_outputs(api, trace_id: str) -> dict[str, Any]:
    page = _call(f"trace {trace_id}", api.observations.get_many, trace_id=trace_id, fields=STAGE_FIELDS, limit=100)
    outputs = {}
    for observation in page.data:
        if observation.name in STAGES and observation.name not in outputs:
            outputs[observation.name] = _json(observation.output)
    return outputs


# -- turns → draft cases --------------------------------------------------------------------------


def case_id(message: str, history_turns: int) -> str:
    """Stable: pulling the same question again gives the same id (so --append skips it)."""
    return "lf-" + hashlib.sha1(_key(message, history_turns).encode("utf-8")).hexdigest()[:10]


def _plain(response_html: str) -> str:
    from pipeline.render import to_plain_text

    return html.unescape(to_plain_text(response_html))


def _reference(source: dict) -> dict | str:
    """{source, heading} when the heading names the chunk (as `dataset draft` writes), else its id."""
    from pipeline.corpus import slugify

    anchor, title = source.get("anchor") or "", source.get("title") or ""
    if anchor and title and source["id"] == f"{source.get('source')}#{anchor}" and slugify(title) == anchor:
        return {"source": source["source"], "heading": title}
    return source["id"]


def _language(turn: ProductionTurn) -> str:
    from evals.dataset import LANGUAGE_PATTERN
    from pipeline.text import detect_language

    return turn.language if re.match(LANGUAGE_PATTERN, turn.language or "") else detect_language(turn.message)


def _category(turn: ProductionTurn, plan: dict) -> str:
    label = plan.get("label") or turn.label
    if label in CATEGORY_OF_LABEL:
        return CATEGORY_OF_LABEL[label]
    if turn.history_turns:
        return "follow-up"
    if turn.kind == "not_found":
        return "unanswerable"
    return "single-fact"


def draft_case(turn: ProductionTurn, chunk_ids: Iterable[str] | None = None) -> dict:
    """One draft case in the dataset's JSONL shape (plus its "langfuse" provenance note)."""
    plan: dict = turn.stages["plan"] if isinstance(turn.stages.get("plan"), dict) else {}
    generated: dict = turn.stages["generate"] if isinstance(turn.stages.get("generate"), dict) else {}
    rewrite: dict = turn.stages["rewrite"] if isinstance(turn.stages.get("rewrite"), dict) else {}
    known = set(chunk_ids) if chunk_ids is not None else None
    references: list = []
    gone: list = []
    for source in turn.sources:
        (references if known is None or source["id"] in known else gone).append(source)
    answer = generated.get("text") if isinstance(generated.get("text"), str) and generated.get("text") else None
    relevant = plan.get("relevant") if isinstance(plan.get("relevant"), bool) else \
        turn.label not in ("off_topic", "injection")
    retrieval = plan.get("needs_retrieval") if isinstance(plan.get("needs_retrieval"), bool) else bool(turn.sources)
    doc_types: list = plan["doc_types"] if isinstance(plan.get("doc_types"), list) else \
        sorted({str(s["doc_type"]) for s in turn.sources if s.get("doc_type")})
    review = ["reference_answer is the answer production gave: correct it if it is wrong",
              "reference_contexts are the passages it retrieved: keep only those that answer the question",
              "expected_* and category are what production did, not what it should have done"]
    if turn.history_turns:
        standalone = rewrite.get("text") if isinstance(rewrite.get("text"), str) else ""
        review.insert(0, f"asked after {turn.history_turns} earlier turn(s), which the trace does not hold "
                         "(history is []): add them as history (Gemini format) or reword the question to stand alone"
                         + (f"; the service read it as: {standalone!r}" if standalone and standalone != turn.message
                            else ""))
    if gone:
        review.append(f"dropped {len(gone)} retrieved passage(s) the index no longer has: "
                      + ", ".join(s["id"] for s in gone))
    note = {"trace_id": turn.trace_id, "time": turn.started.astimezone(UTC).isoformat(),
            "endpoint": turn.name, "asked": turn.asked, "history_turns": turn.history_turns,
            "review": "; ".join(review)}
    return {
        "id": case_id(turn.message, turn.history_turns),
        "question": turn.message,
        "history": [],
        "language": _language(turn),
        "category": _category(turn, plan),
        "expected_relevant": relevant,
        "expected_retrieval": retrieval,
        "expected_doc_types": [d for d in doc_types if isinstance(d, str)],
        "reference_answer": answer or _plain(turn.response_html),
        "reference_contexts": [_reference(s) for s in references],
        "split": "train",
        "draft": True,
        "langfuse": note,
    }


def existing_ids(path: Path) -> set[str]:
    """The ids already in a dataset file (lines that do not parse are left to `dataset check`)."""
    ids = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            value = json.loads(line).get("id")
        except (ValueError, AttributeError):
            continue
        if isinstance(value, str):
            ids.add(value)
    return ids
