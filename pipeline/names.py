"""The site's own names: the distinctive words of its entries' titles ("SonoGlance", "CS4830",
"Lumenworks", 버스벨), read from the index itself.

A question that uses one names an entry: that entry leads the answer, and the message is about
that entry rather than whatever the conversation was on before. A title word is a name when
- the site never writes it in lower case (a proper noun, an acronym, a code: "hardware" and
  "study" are written lower case somewhere, "TACTIMO" and "Aalto" never are); a Korean word,
  which has no case, when at most two entries use it at all;
- few titles have it (a word in many titles — "KAIST" on every degree — is a kind of entry);
- it is not a year, grammar, a field label, a section cue ("paper", "award") or the owner's own
  name (every entry is the owner's).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable

from pipeline.providers.base import ProviderError
from pipeline.text import keyword_fields

_HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]+$")
# a title word is a name while at most this share of the site's titles (and at least 2) has it
NAME_MAX_SHARE = 0.05
MIN_NAME_CHARS = 3  # "AI", "UX", "7" name nothing in particular
KOREAN_MAX_ENTRIES = 2
RARE_MAX_ENTRIES = 2
MIN_RARE_CHARS = 5
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_LOWER_WORD = re.compile(r"(?<![\w.])[a-z][a-z'-]*[a-z](?![\w])")


def title_words(title: str) -> set[str]:
    return set(keyword_fields(title)[0])


class SiteNames:
    """Which words of a message name an entry of the site."""

    def __init__(self, entries: Iterable[tuple[str, str]], ignore: Iterable[str] = ()):
        """`entries`: (title, text) of every chunk of the index."""
        titles: dict[str, set[str]] = {}
        lower: set[str] = set()
        used_by: Counter[str] = Counter()
        for title, text in entries:
            title = (title or "").strip()
            if title and title not in titles:
                titles[title] = title_words(title)
            body = f"{title}\n{text}"
            lower.update(keyword_fields(" ".join(_LOWER_WORD.findall(body)))[0])
            used_by.update(set(keyword_fields(body)[0]))
        counts = Counter(w for words in titles.values() for w in words)
        limit = max(2, math.ceil(NAME_MAX_SHARE * len(titles)))
        ignored = set(ignore)

        def is_name(word: str, in_titles: int) -> bool:
            if in_titles > limit or word in ignored or _YEAR.match(word):
                return False
            if _HANGUL_WORD.match(word):
                return len(word) >= 2 and used_by[word] <= KOREAN_MAX_ENTRIES
            if len(word) < MIN_NAME_CHARS:
                return False
            return word not in lower

        self.names = frozenset(w for w, n in counts.items() if is_name(w, n))
        # words only one or two entries use ("Erasmus", "examiner"): a message using one has a subject
        # of its own, even when no title names it
        self.rare = frozenset(w for w, n in used_by.items() if n <= RARE_MAX_ENTRIES and w not in ignored
                              and not _YEAR.match(w) and (len(w) >= MIN_RARE_CHARS or _HANGUL_WORD.match(w))
                              and not w.isdigit())
        self._korean = sorted((w for w in self.names if _HANGUL_WORD.match(w) and len(w) >= 2), key=len, reverse=True)

    def named(self, message: str) -> frozenset[str]:
        """The site's names the message uses; a Korean word names one with its particle attached
        (한빛어워드에서 → 한빛어워드)."""
        out = set()
        for word in keyword_fields(message)[0]:
            if word in self.names:
                out.add(word)
            elif _HANGUL_WORD.match(word):  # the longest name it starts with (버스벨로 → 버스벨, not 버스)
                out.update(next(([n] for n in self._korean if word.startswith(n)), []))
        return frozenset(out)

    def distinctive(self, message: str) -> frozenset[str]:
        """The message's words that only one or two entries of the site use."""
        return frozenset(w for w in keyword_fields(message)[0] if w in self.rare)

    @staticmethod
    def in_title(title: str, names: Iterable[str]) -> int:
        """How many of `names` the title has."""
        words = title_words(title)
        return sum(1 for n in names if n in words)

    @staticmethod
    def coverage(title: str, text: str, words: Iterable[str], names: Iterable[str]) -> int:
        """How much of the question an entry holds: each of its `words` the entry has, and each
        name in its title once more (the entry a name titles is that name's own; `title` may hold
        the page's title too: a section of the page named "CEE 3410" is that course's)."""
        have = set(keyword_fields(f"{title}\n{text}")[0])
        return sum(1 for w in words if w in have) + SiteNames.in_title(title, names)


class LazyNames:
    """`SiteNames` built on first use from a loader (the store's titles: read once per index)."""

    def __init__(self, load: Callable[[], SiteNames]):
        self._load = load
        self._names: SiteNames | None = None
        self._lock = threading.Lock()

    def get(self) -> SiteNames:
        if self._names is None:
            with self._lock:
                if self._names is None:
                    try:
                        self._names = self._load()
                    except (ProviderError, OSError):  # a store that cannot list its chunks names nothing
                        self._names = SiteNames(())
        return self._names
