"""The fixed sentences the twin speaks, from the language packs, filled in for one persona."""

from __future__ import annotations

import re

from pipeline.lang import FALLBACK, Knowledge
from pipeline.persona import Persona

FIXED = ("greeting", "thanks", "identity", "decline", "not_found", "unavailable")
# site-map labels that name no topic a visitor could ask about
MAX_TOPICS = 6


def _norm(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


class Replies:
    def __init__(self, knowledge: Knowledge, persona: Persona):
        self.knowledge = knowledge
        self.persona = persona
        self._known: dict[str, str] | None = None

    def name(self, language: str) -> str:
        p = self.persona
        # the native name for visitors writing in its script (박민아 for a Korean visitor)
        native = p.native_name and language != FALLBACK and self.knowledge.detect(p.native_name) == language
        return p.native_name if native else p.name

    def topics(self, language: str) -> str:
        """What the site covers, as its own section labels (linked in the answer), or the pack's words."""
        r = self.knowledge.replies(language)
        skip = self.knowledge.not_topics
        labels = [link.label for link in self.persona.site_map if link.label.lower() not in skip][:MAX_TOPICS]
        if not labels:
            return r.topics_default
        if len(labels) == 1:
            return labels[0]
        return r.list_joiner.join(labels[:-1]) + r.list_last + labels[-1]

    def say(self, kind: str, language: str, **values: str) -> str:
        """A reply of the pack (`greeting`, `decline`, `found`, `more_in`…) in `language`."""
        template = getattr(self.knowledge.replies(language), kind)
        summary = f" {self.persona.summary}" if self.persona.summary else ""
        return template.format(name=self.name(language), topics=self.topics(language), summary=summary,
                               **values).strip()

    def kind_of(self, text: str) -> str | None:
        """Which fixed reply an earlier answer was (any language), or None: lets a follow-up
        skip turns that were declined or greeted rather than answered."""
        if self._known is None:
            self._known = {_norm(self.say(kind, code)): kind for kind in FIXED for code in self.knowledge.packs}
        return self._known.get(_norm(text))
