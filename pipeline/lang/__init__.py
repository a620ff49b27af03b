"""Language knowledge as data: one YAML pack per language, validated, merged for the program.

A pack (`en.yaml`, `ko.yaml`) holds what the program knows about a language's words —
exemplars for the planner, injection and follow-up patterns, time words, section cues,
the retrieval glossary, field names, stop words, personal facts — and the fixed replies
it speaks in that language. `Knowledge` is every pack merged (a visitor may mix languages)
plus per-language replies. A saved program stores only its overrides of the packs and the
packs' hash (`Knowledge.fingerprint`), not a second copy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

# the packs ship as package data (importlib.resources: wherever the package is installed)
LANG_DIR = resources.files("pipeline.lang")
LABELS = ("greeting", "thanks", "identity", "off_topic", "injection", "owner")
Label = Literal[LABELS]  # type: ignore[valid-type]


def _compiled(patterns: list[str]) -> list[str]:
    """The patterns, once each is known to compile (a pack's error names the pattern)."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression ({exc})") from None
    return patterns


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
        return _compiled(patterns)

    @field_validator("asked_by")
    @classmethod
    def _asked_by(cls, words: list[str]) -> list[str]:
        return _entries(words)


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
        return _compiled(patterns)

    @field_validator("script")
    @classmethod
    def _script(cls, script: str) -> str:
        return _compiled([script])[0] if script else script

    @field_validator("time_now", "current_markers", "personal_facts", "owner_refs")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        return _entries(words)

    @field_validator("section_cues")
    @classmethod
    def _cues(cls, cues: dict[str, list[str]]) -> dict[str, list[str]]:
        for words in cues.values():
            _entries(words)
        return cues

    @field_validator("glossary")
    @classmethod
    def _glossary(cls, glossary: dict[str, str]) -> dict[str, str]:
        _entries(list(glossary))
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


_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")
FALLBACK = "en"  # the language of a text no pack's letters carry, and of replies no pack has


# How every word list of a pack matches a visitor's words, one rule for all of them (the entry says
# which, never the list's name): "award" is the whole word; "award*" any word starting so (awards,
# awarded); a Korean entry matches anywhere, since particles attach to it (수상 in 수상했어요).
PREFIX = "*"


def bare(word: str) -> str:
    """The entry without its prefix mark: the word itself."""
    return word.removesuffix(PREFIX)


def _word_part(word: str) -> str:
    if _HANGUL.search(word):
        return re.escape(bare(word))
    if word.endswith(PREFIX):
        return r"(?<!\w)" + re.escape(bare(word))
    return r"(?<!\w)" + re.escape(word) + r"(?!\w)"


def word_pattern(words: list[str]) -> re.Pattern:
    """Any of the entries `words`, each matched as it says (see PREFIX)."""
    return re.compile("|".join(_word_part(w) for w in words) or r"(?!)", re.IGNORECASE)


# a piece that ends like this did not end a sentence: a short capitalised word ("Prof.", "Mar.") or
# initials ("Ph.D."), in any Latin-script language; the packs add their own words (`abbreviations`)
_ABBREVIATION_SHAPES = r"(?<![\w.])[A-Z][a-z]{0,3}|(?<![\w.])[A-Za-z](?:\.[A-Za-z])+"


def abbreviation_pattern(words: Sequence[str] = ()) -> re.Pattern:
    """A piece ending in one of the shapes or `words` ("e.g", "vol"), then a dot."""
    listed = "|".join(re.escape(w.rstrip(".")) for w in words)
    return re.compile(rf"(?:{_ABBREVIATION_SHAPES}" + (rf"|\b(?:{listed})" if listed else "") + r")\.$")



def _mentions(text: str, word: str) -> bool:
    return re.search(_word_part(word), text, re.IGNORECASE) is not None


def _entries(words: list[str]) -> list[str]:
    """Word entries, once each is known to say how it matches (a mark only at the end, a word before it)."""
    for word in words:
        if not bare(word).strip() or PREFIX in bare(word):
            raise ValueError(f"entry {word!r}: a word, optionally ending in {PREFIX!r} (a prefix)")
    return words


class Knowledge:
    """Every pack merged, with compiled patterns; replies per language (English when unknown)."""

    def __init__(self, packs: dict[str, LanguagePack], overrides: dict | None = None,
                 site_sections: dict[str, list[str]] | None = None):
        self.overrides = overrides or {}
        # cues for the site's own sections, read from its index (pipeline.site_cues): not pack content,
        # so not in the fingerprint (a program saved on one site loads on another without a warning)
        self.site_sections = site_sections or {}
        self.packs = {
            code: LanguagePack.model_validate(merge(pack.model_dump(), self.overrides[code]))
            if code in self.overrides else pack
            for code, pack in packs.items()
        }

    def with_site_sections(self, cues: dict[str, list[str]]) -> Knowledge:
        """The same packs, with section cues for the site's own doc types."""
        out = Knowledge.__new__(Knowledge)
        out.overrides, out.packs, out.site_sections = self.overrides, self.packs, dict(cues)
        return out

    # -- per language ------------------------------------------------------------------

    def pack(self, language: str) -> LanguagePack:
        return self.packs.get(language) or self.packs["en"]

    def replies(self, language: str) -> Replies:
        return self.pack(language).replies

    def language_name(self, code: str, in_language: str) -> str:
        """What `in_language` calls language `code` ("Korean", "한국어"…)."""
        pack = self.pack(code)
        named = self.pack(in_language).language_names.get(code)
        return named or (pack.native_name if in_language == code and pack.native_name else pack.name)

    @cached_property
    def _scripts(self) -> list[tuple[str, re.Pattern, float]]:
        return [(code, re.compile(pack.script), pack.script_weight) for code, pack in self.packs.items() if pack.script]

    def detect(self, text: str) -> str:
        """The language a text is written in: the pack whose letters carry it (weighted against the
        Latin letters in it), else English. With en and ko it is `pipeline.text.detect_language`."""
        latin = len(_LATIN.findall(text))
        best, carried = FALLBACK, 0.0
        for code, letters, weight in self._scripts:
            found = len(letters.findall(text)) * weight
            if found and found >= latin * 0.5 and found > carried:
                best, carried = code, found
        return best

    # -- merged over every language ----------------------------------------------------

    def _all(self, attr: str) -> list:
        return [item for pack in self.packs.values() for item in getattr(pack, attr)]

    @cached_property
    def exemplars(self) -> dict[str, list[str]]:
        merged: dict[str, list[str]] = {label: [] for label in LABELS}
        for pack in self.packs.values():
            for label, texts in pack.exemplars.items():
                merged[label].extend(texts)
        return merged

    @cached_property
    def section_cues(self) -> dict[str, re.Pattern]:
        words: dict[str, list[str]] = {}
        for pack in self.packs.values():
            for doc_type, cues in pack.section_cues.items():
                words.setdefault(doc_type, []).extend(cues)
        for doc_type, cues in self.site_sections.items():
            words.setdefault(doc_type, []).extend(cues)
        return {doc_type: word_pattern(cues) for doc_type, cues in words.items()}

    @cached_property
    def cue_words(self) -> frozenset[str]:
        """Every word of every section cue ("paper", "award", "수상"…): kinds of entry, not names of one."""
        from pipeline.text import keyword_fields

        lists = [*(c for pack in self.packs.values() for c in pack.section_cues.values()),
                 *self.site_sections.values()]
        return frozenset(w for cues in lists for cue in cues for w in keyword_fields(bare(cue))[0])

    @cached_property
    def glossary(self) -> dict[str, str]:
        return {word: gloss for pack in self.packs.values() for word, gloss in pack.glossary.items()}

    @cached_property
    def injection(self) -> list[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self._all("injection_patterns")]

    @cached_property
    def follow_up(self) -> list[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self._all("follow_up_patterns")]

    @cached_property
    def switch(self) -> list[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self._all("switch_patterns")]

    @cached_property
    def lists(self) -> list[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self._all("list_patterns")]

    @cached_property
    def time_now(self) -> re.Pattern:
        return word_pattern(self._all("time_now"))

    @cached_property
    def current_markers(self) -> re.Pattern:
        return word_pattern(self._all("current_markers"))

    @cached_property
    def personal_facts(self) -> re.Pattern:
        return word_pattern(self._all("personal_facts"))

    @cached_property
    def stopwords(self) -> frozenset[str]:
        return frozenset(word for pack in self.packs.values() for word in pack.stopwords.split())

    @cached_property
    def field_words(self) -> frozenset[str]:
        """Every word of every field name ("period", "기간", "type"…), lowercased."""
        from pipeline.text import keyword_tokens

        names = [n for pack in self.packs.values() for spec in pack.fields.values() for n in spec.names]
        return frozenset(w for n in names + ["type", "title", "status", "event", "topic"] for w in keyword_tokens(n))

    @cached_property
    def fields(self) -> dict[str, tuple[re.Pattern, re.Pattern]]:
        """kind → (how a page names it at a line's start, how a question asks for it)."""
        names: dict[str, list[str]] = {}
        asked: dict[str, list[str]] = {}
        for pack in self.packs.values():
            for kind, spec in pack.fields.items():
                names.setdefault(kind, []).extend(spec.names)
                asked.setdefault(kind, []).extend(spec.asked_by)
        out = {}
        for kind in names:
            label = "|".join(re.escape(n) for n in sorted(names[kind], key=len, reverse=True))
            # "Advisor: …", "- 기간: …", "Dissertation (tentative): …"
            named = re.compile(rf"^\W*(?:{label})(?:\s*\([^)]*\))?\s*[:：]", re.IGNORECASE)
            out[kind] = (named, word_pattern(asked[kind]))
        return out

    # -- what a text says ---------------------------------------------------------------

    def expand(self, text: str, *, hangul: bool = True) -> str:
        """`text` with the glossary's terms for the words it mentions (retrieval only); without
        `hangul`, only the terms in Latin script (what the embedder is given: Korean glosses on an
        English question measured worse for dense search, while keyword search needs them to match
        a Korean page at all)."""
        extra = [gloss for word, gloss in self.glossary.items() if _mentions(text, word)]
        if not hangul:
            extra = [" ".join(w for w in g.split() if not _HANGUL.search(w)) for g in extra]
            extra = [g for g in extra if g]
        return f"{text} ({', '.join(dict.fromkeys(extra))})" if extra else text

    def doc_types_for(self, text: str) -> list[str]:
        return [doc_type for doc_type, pattern in self.section_cues.items() if pattern.search(text)]

    @cached_property
    def work_requests(self) -> list[re.Pattern]:
        return [re.compile(p, re.IGNORECASE) for p in self._all("work_requests")]

    @cached_property
    def abbreviations(self) -> re.Pattern:
        return abbreviation_pattern(self._all("abbreviations"))

    @cached_property
    def not_topics(self) -> frozenset[str]:
        return frozenset(label.lower() for label in self._all("not_topics"))

    @cached_property
    def owner_refs(self) -> re.Pattern:
        return word_pattern(self._all("owner_refs"))

    def requests_work(self, text: str) -> bool:
        """The message asks the assistant to do something ("Draft a cover letter", "코드 좀 짜 줘")."""
        return any(p.search(text) for p in self.work_requests)

    def refers_to_owner(self, text: str) -> bool:
        """A word that points at the owner ("your", "her", 그녀, 교수님). Kinds of entry ("paper",
        "app") do not: "Can you help me debug my app?" is about the visitor's app."""
        return bool(self.owner_refs.search(text))

    def is_injection(self, text: str) -> bool:
        return any(p.search(text) for p in self.injection)

    def refers_back(self, text: str) -> bool:
        """A word that points at the conversation's subject ("it", 그것); time phrases ("these days") do not."""
        text = self.time_now.sub(" ", text)
        return any(p.search(text) for p in self.follow_up)

    def refers_back_at(self, text: str) -> int | None:
        """Where the first word pointing back starts (None: there is none)."""
        text = self.time_now.sub(lambda m: " " * len(m.group(0)), text)
        found = [m.start() for p in self.follow_up for m in [p.search(text)] if m]
        return min(found) if found else None

    @cached_property
    def _asked_noun(self) -> re.Pattern:
        words = "|".join(re.escape(w) for w in self._all("wh_determiners")) or r"(?!)"
        return re.compile(rf"(?:(?<!\w)(?:{words}))\s+(\w+)", re.IGNORECASE)

    def asked_nouns(self, text: str) -> set[str]:
        """The words right after "which/what" (어떤/무슨): the kind of thing asked for."""
        from pipeline.text import keyword_fields

        return {w for m in self._asked_noun.finditer(text) for w in keyword_fields(m.group(1))[0]}

    def switches_subject(self, text: str) -> bool:
        """An opening that keeps the earlier question with a new subject ("and for your master's?")."""
        return any(p.search(text) for p in self.switch)

    def asks_list(self, text: str) -> bool:
        return any(p.search(text) for p in self.lists)

    def asks_now(self, text: str) -> bool:
        return bool(self.time_now.search(text))

    def asked_fields(self, text: str) -> list[str]:
        return [kind for kind, (_, asked) in self.fields.items() if asked.search(text)]

    def asked_phrase(self, text: str, kind: str) -> str:
        """The words of `text` that ask for a field of this kind ("advisor", "언제")."""
        found = self.fields[kind][1].search(text)
        return found.group(0) if found else ""

    @cached_property
    def field_shapes(self) -> dict[str, re.Pattern]:
        shapes: dict[str, list[str]] = {}
        for pack in self.packs.values():
            for kind, spec in pack.fields.items():
                shapes.setdefault(kind, []).extend(spec.shapes)
        return {kind: re.compile("|".join(f"(?:{p})" for p in pats), re.IGNORECASE)
                for kind, pats in shapes.items() if pats}

    def shaped_as(self, line: str) -> set[str]:
        """The kinds of fact a line holds a value of, named or not ("Mar. 2023" → period)."""
        return {kind for kind, shape in self.field_shapes.items() if shape.search(line)}

    def field_of(self, line: str) -> str | None:
        """The kind of fact a line states by name ("Advisor: …" → advisor), if any."""
        return next((kind for kind, (named, _) in self.fields.items() if named.search(line)), None)

    @property
    def fingerprint(self) -> str:
        """A hash of the packs' content (with overrides): saved programs record it."""
        data = {code: pack.model_dump(mode="json") for code, pack in sorted(self.packs.items())}
        return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def load_knowledge(overrides: dict | None = None, directory: Path | Traversable = LANG_DIR) -> Knowledge:
    packs = {}
    for path in sorted((p for p in directory.iterdir() if p.name.endswith(".yaml")), key=lambda p: p.name):
        pack = read_pack(path)
        if pack.code != path.name.removesuffix(".yaml"):
            raise LanguagePackError(f"{path}: code {pack.code!r} does not match the file name")
        packs[pack.code] = pack
    if "en" not in packs:
        raise LanguagePackError(f"{directory}: no en.yaml (English is the fallback language)")
    unknown = set(overrides or {}) - set(packs)
    if unknown:
        raise LanguagePackError(f"overrides for unknown languages: {', '.join(sorted(unknown))}")
    return Knowledge(packs, overrides)


_DEFAULT: Knowledge | None = None


def default_knowledge() -> Knowledge:
    """The packs as shipped (parsed once per process)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_knowledge()
    return _DEFAULT
