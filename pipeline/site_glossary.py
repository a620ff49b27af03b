"""Glossary candidates from a site's own titles, where it names a thing in both scripts.

A Korean site titles an entry "느린 기술 (Slow Tech)"; elsewhere it may write only one of the two,
and a visitor asks in the other. Keyword search cannot cross scripts, so the packs' glossary
bridges general words (석사 → M.S.); a site's own names are drafted here, for the owner to review
(`workbench glossary draft`), and then offered to the optimizer (`workbench optimize --glossary`),
which serves them only when the site's dev questions say they help.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.lang import Knowledge

_HANGUL_NAME = r"[\uac00-\ud7a3][\uac00-\ud7a3\s]{0,30}[\uac00-\ud7a3]"
_LATIN_NAME = r"[A-Za-z][A-Za-z0-9 .&'-]{0,40}[A-Za-z0-9]"
# "느린 기술 (Slow Tech)" and "Slow Tech (느린 기술)": a name, then the same name in the other script
_KO_THEN_EN = re.compile(rf"({_HANGUL_NAME})\s*\(({_LATIN_NAME})\)")
_EN_THEN_KO = re.compile(rf"({_LATIN_NAME})\s*\(({_HANGUL_NAME})\)")


def pairs(titles: Iterable[str]) -> dict[str, str]:
    """Korean name → its Latin-script name, from every title that gives both."""
    found: dict[str, str] = {}
    for title in titles:
        for korean, latin in _KO_THEN_EN.findall(title):
            found.setdefault(" ".join(korean.split()), " ".join(latin.split()))
        for latin, korean in _EN_THEN_KO.findall(title):
            found.setdefault(" ".join(korean.split()), " ".join(latin.split()))
    return found


def draft_glossary(titles: Iterable[str], knowledge: Knowledge) -> dict:
    """Pack overrides (`ProgramParams.lang_overrides` shape) for the pairs the packs do not have yet:
    the Korean name glossed by the Latin one, and the Latin one (lowercased) by the Korean."""
    known = {word.lower() for word in knowledge.glossary}
    # a menu label ("소개 (About)") or a general word names no one thing: glossing it would add
    # 소개 to every English question that says "about"
    general = knowledge.stopwords | knowledge.not_topics | knowledge.cue_words
    ko: dict[str, str] = {}
    en: dict[str, str] = {}
    for korean, latin in sorted(pairs(titles).items()):
        if latin.lower() in general or korean in general:
            continue
        if korean.lower() not in known:
            ko[korean] = latin
        if latin.lower() not in known:
            en[latin.lower()] = korean
    return {code: {"glossary": entries} for code, entries in (("ko", ko), ("en", en)) if entries}
