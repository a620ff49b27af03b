"""Every pack merged for the program: compiled patterns, and per-language replies and names."""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property

from pipeline.lang.pack import LABELS, LanguagePack, Replies, merge
from pipeline.lang.words import FALLBACK, HANGUL, LATIN, abbreviation_pattern, bare, mentions, word_pattern


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
        latin = len(LATIN.findall(text))
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
        extra = [gloss for word, gloss in self.glossary.items() if mentions(text, word)]
        if not hangul:
            extra = [" ".join(w for w in g.split() if not HANGUL.search(w)) for g in extra]
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
