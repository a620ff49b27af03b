"""How a pack's entries match a visitor's words: one rule for every word list, said by the entry."""

from __future__ import annotations

import re
from collections.abc import Sequence


def compiled_patterns(patterns: list[str]) -> list[str]:
    """The patterns, once each is known to compile (a pack's error names the pattern)."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} is not a valid regular expression ({exc})") from None
    return patterns


HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")
FALLBACK = "en"  # the language of a text no pack's letters carry, and of replies no pack has


# How every word list of a pack matches a visitor's words, one rule for all of them (the entry says
# which, never the list's name): "award" is the whole word; "award*" any word starting so (awards,
# awarded); a Korean entry matches anywhere, since particles attach to it (수상 in 수상했어요).
PREFIX = "*"


def bare(word: str) -> str:
    """The entry without its prefix mark: the word itself."""
    return word.removesuffix(PREFIX)


def _word_part(word: str) -> str:
    if HANGUL.search(word):
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



def mentions(text: str, word: str) -> bool:
    return re.search(_word_part(word), text, re.IGNORECASE) is not None


def word_entries(words: list[str]) -> list[str]:
    """Word entries, once each is known to say how it matches (a mark only at the end, a word before it)."""
    for word in words:
        if not bare(word).strip() or PREFIX in bare(word):
            raise ValueError(f"entry {word!r}: a word, optionally ending in {PREFIX!r} (a prefix)")
    return words
