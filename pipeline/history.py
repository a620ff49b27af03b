"""Chat history in the Gemini format the site sends: [{"role", "parts": [{"text"}]}]."""

from __future__ import annotations

from typing import Iterable, Literal

from pydantic import BaseModel, Field


class Part(BaseModel):
    text: str


class Turn(BaseModel):
    role: Literal["user", "model"]
    parts: list[Part] = Field(min_length=1)

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.parts).strip()


def parse_history(raw: Iterable[dict] | None) -> list[Turn]:
    """Validate a Gemini-format history (pydantic raises a precise error)."""
    return [t if isinstance(t, Turn) else Turn.model_validate(t) for t in (raw or [])]


def format_history(turns: list[Turn], *, max_turns: int = 6, max_chars: int = 400) -> str:
    """The last turns as plain text for a prompt; long turns are clipped."""
    lines = []
    for turn in turns[-max_turns:]:
        speaker = "Visitor" if turn.role == "user" else "Assistant"
        text = turn.text.replace("\n", " ")
        lines.append(f"{speaker}: {text[:max_chars]}")
    return "\n".join(lines)
