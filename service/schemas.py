"""The request and response: models with the configured limits, the answer's JSON, error sentences."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from pipeline.settings import Settings

SESSION_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
MAX_PARTS = 8
SSE_EVENT_SCHEMA = {  # each event of /api/chat/stream
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["start", "delta", "final", "error"]},
        "data": {"type": "string", "description": "JSON: {sessionId} | {text} | the /api/chat body | "
                                                  "{error, status, retryAfter}"},
    },
}


class ErrorBody(BaseModel):
    error: str = Field(description="What is wrong, in one sentence.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {status: {"model": ErrorBody, "description": text} for status, text in (
    (400, "Not JSON or not UTF-8."), (401, "Missing or wrong X-API-Key (when RAG_API_KEY is set)."),
    (413, "Body too large."), (415, "Not application/json."), (422, "Not a valid chat request."),
    (429, "Rate limited; see Retry-After."), (503, "LM unavailable, busy, too slow or loading; see Retry-After."),
)}


def _valid_text(value: str, what: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode text") from None
    return value


def build_models(settings: Settings):
    """The request/response models, with the configured limits in their JSON schema."""
    max_chars = settings.max_message_chars
    max_turns = settings.max_history_turns

    class Part(BaseModel):
        model_config = ConfigDict(extra="ignore")
        text: StrictStr = Field(description=f"Clipped to {max_chars} characters.")

        @field_validator("text")
        @classmethod
        def _unicode(cls, value: str) -> str:
            # history is context, not a question: a long turn (a widget's rendered HTML answer,
            # entities and anchors included) is clipped, not refused; the body limit bounds it
            return _valid_text(value, "a history text")[:max_chars]

    class HistoryTurn(BaseModel):
        """One turn of the Gemini-format history the site keeps."""

        model_config = ConfigDict(extra="ignore")
        role: Literal["user", "model"]
        parts: list[Part] = Field(min_length=1, max_length=MAX_PARTS)

    class ChatRequest(BaseModel):
        model_config = ConfigDict(extra="ignore")
        message: StrictStr = Field(min_length=1, max_length=max_chars, description="The visitor's message.")
        history: list[HistoryTurn] = Field(
            default_factory=list,
            description=f"Earlier turns, oldest first, in Gemini's format; only the last {max_turns} are kept.",
        )
        sessionId: StrictStr | None = Field(  # noqa: N815 (the widget's wire name)
            None, pattern=SESSION_PATTERN, description="Echoed back; a new one is made when absent."
        )

        @field_validator("message")
        @classmethod
        def _not_blank(cls, value: str) -> str:
            if not value.strip():
                raise ValueError("message must not be empty or only whitespace")
            return _valid_text(value, "message")

        @field_validator("history")
        @classmethod
        def _recent(cls, turns: list) -> list:
            # the widget keeps its own, longer history: the most recent turns are what matter,
            # and the pipeline decides how many of them it reads
            return turns[-max_turns:] if max_turns else []

    class SourceOut(BaseModel):
        source: str
        title: str
        doc_type: str
        score: float
        id: str
        anchor: str
        url: str = Field("", description="The site page the passage is read on ('' when the layout cannot tell).")
        page: str = Field("", description="That page's title.")

    class ChatResponse(BaseModel):
        response: str = Field(description="What the page renders: escaped text, site-map labels as anchors.")
        sources: list[SourceOut]
        sessionId: str  # noqa: N815 (the widget's wire name)
        language: str = Field(description="The visitor's language as detected: en or ko.")
        degraded: str | None = Field(None, description="'retrieval' when the site's content could not be searched.")

    return ChatRequest, ChatResponse


def history_of(body) -> list[dict]:
    return [turn.model_dump() for turn in body.history]


# -- the answer as JSON: the one place that reads the pipeline's result ----------------------------


def payload(answer, session_id: str) -> dict:
    """The /api/chat body: the answer's own JSON (`pipeline.turn.Answer.to_json`) and the session."""
    return {**answer.to_json(), "sessionId": session_id}


def stage_timings(result) -> dict | None:
    """Milliseconds per stage, for the request's log line (None: not known, e.g. a degraded answer)."""
    timings = getattr(getattr(result, "trace", None), "timings_ms", None)
    return dict(timings) if timings else None


# -- validation errors as one sentence -------------------------------------------------------------


def error_sentence(exc: RequestValidationError) -> tuple[int, str]:
    """The first validation error as (status, one sentence)."""
    errors = exc.errors()
    if not errors:
        return 422, "the request is not valid"
    first = errors[0]
    kind = first.get("type", "")
    if kind in ("json_invalid", "json_type"):
        return 400, "the body is not valid JSON"
    loc = [p for p in first.get("loc", ()) if p != "body"]
    field = ""
    for part in loc:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    ctx = first.get("ctx") or {}
    if not loc:
        if kind in ("model_attributes_type", "dict_type", "model_type"):
            return 422, "the body must be a JSON object"
        if kind == "missing":
            return 422, "the body is empty: send a JSON object with a message"
    if kind == "missing":
        return 422, f"{field} is required"
    if kind == "string_too_long":
        return 422, f"{field} is longer than {ctx.get('max_length')} characters"
    if kind == "too_long":
        return 422, f"{field} has more than {ctx.get('max_length')} items"
    if kind == "string_pattern_mismatch" and field == "sessionId":
        return 422, "sessionId must be 1-128 characters of letters, digits, '.', '_', ':' or '-'"
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    if kind == "value_error":
        return 422, message
    return 422, f"{field or 'the body'}: {message}"
