"""Section cues for a site's own doc types, read from the names it gives them.

The packs' section cues name the demo's sections (papers, awards, other…); a Jekyll or Hugo
site names its own (`publications`, `talks`, `exhibitions`), so the soft section filter never
fired there. Every program cues them by their own English word (`site_section_names`); more —
their Korean glosses, a pack section's cues when the site renamed it — is a candidate of the
optimizer (`evals/optimize.py`), as program overrides of the packs, served only when the
site's dev questions say it helps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.lang import PREFIX, Knowledge, bare

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
MIN_STEM = 4  # shorter stems ("new" from "news") would catch unrelated words as word prefixes
# kinds of page that hold every kind of entry: a cue for them would filter nothing in
CATCH_ALL = "other"  # the packs' section for everything else: its cues say nothing of one doc type
AGGREGATE = frozenset({"cv", "resume", "home", "index", "about", "profile", "page", "pages", "misc"})


def stem(doc_type: str, cue_words: frozenset[str]) -> str:
    """The start every form of a doc type's name shares, as a word prefix: "talks" → "talk",
    "galleries" → "galler" (gallery), "classes" → "class"; a word that only ends in s stays
    whole ("press": "pres" would catch "present"), and so does a stem that starts another cue
    ("posts": "post" would catch "poster")."""
    name = doc_type.lower().replace("_", " ").replace("-", " ").strip()
    if name.endswith("ies"):
        short = name[:-3]
    elif name.endswith(("sses", "xes", "ches", "shes")):
        short = name[:-2]
    elif name.endswith("s") and not name.endswith(("ss", "us", "is")):
        short = name[:-1]
    else:
        return name
    if len(short) < MIN_STEM or any(w != short and w.startswith(short) for w in cue_words):
        return name
    return short


def _new_doc_types(doc_types: Sequence[str], knowledge: Knowledge) -> list[str]:
    """The site's doc types the packs have no cues for, that name one kind of entry."""
    known = {d for pack in knowledge.packs.values() for d in pack.section_cues}
    return [d for d in dict.fromkeys(doc_types) if d and d not in known and d.lower() not in AGGREGATE
            and re.fullmatch(r"[A-Za-z][A-Za-z _-]+", d)]


def site_section_names(doc_types: Sequence[str], knowledge: Knowledge) -> dict[str, list[str]]:
    """Each new doc type cued by the word a visitor would use for it ("talks" → "talk"): what every
    program does on the site (`Knowledge.with_site_sections`). Measured over the fixture sites and
    the second corpus (all splits), it moves hit@1 up on two sites and no figure down anywhere."""
    english = knowledge.pack("en").section_cues
    cue_words = frozenset(bare(w).lower() for cues in english.values() for w in cues)
    return {d: [stem(d, cue_words) + PREFIX] for d in _new_doc_types(doc_types, knowledge)}


def site_section_cues(doc_types: Sequence[str], knowledge: Knowledge, inherit: bool = False) -> dict:
    """Overrides (`ProgramParams.lang_overrides`), a candidate of the optimizer: each site doc type
    the packs do not name cued by its own name and the Korean glossary words glossed by it (논문 is
    glossed "paper publication", but a thesis is not a publication: measured, it cost a question on
    one site, so it is the site's dev questions that decide); with `inherit`, also —
    when it is the site's only name for one of the packs' sections (`publications` for `papers`)
    — that section's cues in every language (never the catch-all `other`'s). Empty when the
    packs already name every doc type."""
    english = knowledge.pack("en").section_cues
    stems = {d: bare(words[0]) for d, words in site_section_names(doc_types, knowledge).items()}

    def aligned(word: str) -> list[str]:  # the packs' sections one of whose cues starts this word
        return [s for s, cues in english.items()
                if any(len(bare(c)) >= MIN_STEM and word.startswith(bare(c).lower()) for c in cues)]

    claims: dict[str, list[str]] = {}
    for d, word in stems.items():
        for section in aligned(word):
            claims.setdefault(section, []).append(d)
    out: dict[str, dict[str, list[str]]] = {}
    for d, word in stems.items():
        out.setdefault("en", {})[d] = [word + PREFIX]
        glossed = [k for pack in knowledge.packs.values() for k, gloss in pack.glossary.items()
                   if _HANGUL.search(k) and re.search(rf"(?<!\w){re.escape(word)}", gloss, re.IGNORECASE)]
        for section, names in claims.items():
            if inherit and names == [d] and section not in doc_types and section != CATCH_ALL:  # the site's one name for the section
                for code, pack in knowledge.packs.items():
                    out.setdefault(code, {}).setdefault(d, []).extend(pack.section_cues.get(section, []))
        if glossed:
            out.setdefault("ko", {}).setdefault(d, []).extend(glossed)
    return {code: {"section_cues": {d: list(dict.fromkeys(cues)) for d, cues in sections.items()}}
            for code, sections in out.items() if code in knowledge.packs}
