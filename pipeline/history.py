"""Chat history in the Gemini format the site sends: [{"role", "parts": [{"text"}]}].

The site's widget sends its own rendered answers back as the model's turns: HTML with
entities, `<a>` and `<br>`. They are read as plain text here, once, so no stage ever sees
markup or matches `&amp;` as a word.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

_BREAK = re.compile(r"<\s*(br|/p|/li|/div)\s*/?\s*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


class Part(BaseModel):
    text: str


class Turn(BaseModel):
    role: Literal["user", "model"]
    parts: list[Part] = Field(min_length=1)

    @property
    def text(self) -> str:
        """The turn as plain text (a model turn's HTML read as the visitor saw it)."""
        joined = "\n".join(p.text for p in self.parts)
        return as_text(joined) if self.role == "model" else joined.strip()


def as_text(markup: str) -> str:
    """HTML as the text a reader sees: line breaks kept, tags dropped, entities decoded once."""
    if "<" not in markup and "&" not in markup:
        return markup.strip()
    text = _TAG.sub("", _BREAK.sub("\n", markup))
    return re.sub(r"[ \t]+", " ", html.unescape(text)).strip()


_ACTIVE = re.compile(r"<\s*(script|style)\b[^>]*>.*?(<\s*/\s*\1\s*>|$)", re.IGNORECASE | re.DOTALL)


def strip_markup(text: str) -> str:
    """A visitor's message without HTML: scripts and styles with their content, then every tag.
    Entities stay as typed ("R&D", "&lt;b&gt;" are the visitor's words)."""
    if "<" not in text:
        return text
    return re.sub(r"[ \t]+", " ", _TAG.sub(" ", _ACTIVE.sub(" ", text))).strip()


def parse_history(raw: Iterable[dict | Turn] | None, max_turns: int | None = None) -> list[Turn]:
    """Validate a Gemini-format history (pydantic raises a precise error); keep the most recent turns."""
    turns = [t if isinstance(t, Turn) else Turn.model_validate(t) for t in (raw or [])]
    return turns[-max_turns:] if max_turns else turns


def exchanges(turns: list[Turn]) -> list[tuple[str, str]]:
    """(visitor's message, the reply to it) pairs, oldest first; a reply may be ''."""
    pairs: list[tuple[str, str]] = []
    for turn in turns:
        if turn.role == "user":
            pairs.append((turn.text, ""))
        elif pairs and not pairs[-1][1]:
            pairs[-1] = (pairs[-1][0], turn.text)
    return pairs


def format_history(turns: list[Turn], *, max_turns: int = 6, max_chars: int = 400) -> str:
    """The last turns as plain text for a prompt; long turns are clipped."""
    lines = []
    for turn in turns[-max_turns:]:
        speaker = "Visitor" if turn.role == "user" else "Assistant"
        text = turn.text.replace("\n", " ")
        lines.append(f"{speaker}: {text[:max_chars]}")
    return "\n".join(lines)
