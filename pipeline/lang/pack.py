"""One language pack: its schema (every field validated on load) and the strict YAML it is read from."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pipeline.lang.words import compiled_patterns, word_entries

LABELS = ("greeting", "thanks", "identity", "off_topic", "injection", "owner")
Label = Literal[LABELS]  # type: ignore[valid-type]


class FieldNames(BaseModel):
    """A kind of fact: how a page names it ("Advisor:") and how a question asks for it."""

    model_config = ConfigDict(extra="forbid")
    names: list[str] = Field(min_length=1)
    asked_by: list[str] = Field(min_length=1)  # word entries (see PREFIX)
    # how a line states such a fact without naming it (regexes, case-insensitive): "Mar. 2023",
    # "2019년" state a period; "Kittelsen Hall 204" a location
    shapes: list[str] = Field(default_factory=list)

    @field_validator("shapes")
    @classmethod
    def _shapes_compile(cls, patterns: list[str]) -> list[str]:
        return compiled_patterns(patterns)

    @field_validator("asked_by")
    @classmethod
    def _asked_by(cls, words: list[str]) -> list[str]:
        return word_entries(words)


class Replies(BaseModel):
    """Fixed sentences. Placeholders: {name} {topics} {summary} {section} {other}."""

    model_config = ConfigDict(extra="forbid")
    greeting: str
    thanks: str
    identity: str
    decline: str
    not_found: str
    unavailable: str
    found: str
    found_other_language: str
    found_entries_other_language: str
    closest: str
    more_in: str
    topics_default: str
    list_joiner: str = ", "
    list_last: str = " and "


class LanguagePack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z]{2,3}$")
    name: str
    native_name: str = ""
    # the letters that mark a message as this language (a regex character class; none: the Latin
    # fallback, English), and how many Latin letters one of them carries (a Hangul syllable ~2.5)
    script: str = ""
    script_weight: float = Field(1.0, gt=0)
    # what this language calls the others ({"en": "영어"}); unlisted: each pack's own name
    language_names: dict[str, str] = Field(default_factory=dict)
    exemplars: dict[Label, list[str]]
    injection_patterns: list[str]
    follow_up_patterns: list[str]
    switch_patterns: list[str]
    list_patterns: list[str]
    time_now: list[str]
    current_markers: list[str]
    section_cues: dict[str, list[str]]
    glossary: dict[str, str]
    fields: dict[str, FieldNames]
    stopwords: str
    personal_facts: list[str]
    replies: Replies
    # a request for the assistant to do work of its own (write, debug, plan, translate, recommend…): declined
    # unless the message is about the owner (`owner_refs`, the owner's name, a name of the site's entries)
    work_requests: list[str] = Field(default_factory=list)
    owner_refs: list[str] = Field(default_factory=list)  # whole words that point at the owner
    # words that ask which thing ("which session", 어떤 상): the noun after one is what is asked, not a subject
    wh_determiners: list[str] = Field(default_factory=list)
    # site-map labels that are not topics to offer ("About", "CV", 홈): pages of everything, lowercased
    not_topics: list[str] = Field(default_factory=list)
    # words written with a dot that does not end a sentence ("e.g.", "vol."): quoted lines are not cut there
    abbreviations: list[str] = Field(default_factory=list)

    @field_validator("injection_patterns", "follow_up_patterns", "switch_patterns", "list_patterns", "work_requests")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        return compiled_patterns(patterns)

    @field_validator("script")
    @classmethod
    def _script(cls, script: str) -> str:
        return compiled_patterns([script])[0] if script else script

    @field_validator("time_now", "current_markers", "personal_facts", "owner_refs")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        return word_entries(words)

    @field_validator("section_cues")
    @classmethod
    def _cues(cls, cues: dict[str, list[str]]) -> dict[str, list[str]]:
        for words in cues.values():
            word_entries(words)
        return cues

    @field_validator("glossary")
    @classmethod
    def _glossary(cls, glossary: dict[str, str]) -> dict[str, str]:
        word_entries(list(glossary))
        return glossary


class LanguagePackError(ValueError):
    pass


class DuplicateKeyError(yaml.YAMLError):
    """A key written twice in one mapping: YAML would silently keep the last."""


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise DuplicateKeyError(f"{key!r} is written twice (lines {seen[key]} and "
                                        f"{key_node.start_mark.line + 1}); YAML would keep only the second")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_pack(path: Path | Traversable) -> LanguagePack:
    from pydantic import ValidationError

    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
        return LanguagePack.model_validate(data)
    except DuplicateKeyError as exc:
        raise LanguagePackError(f"{path}: {exc}") from None
    except (OSError, yaml.YAMLError) as exc:
        raise LanguagePackError(f"{path}: cannot be read ({exc.__class__.__name__})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LanguagePackError(f"{path}: {where}: {first['msg']}") from None


def merge(base: dict, override: dict) -> dict:
    """Deep merge: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
