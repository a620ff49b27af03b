"""Language detection and keyword tokens that work for English and Korean alike."""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LATIN = re.compile(r"[A-Za-z]")
# a run of Hangul syllables, or a run of other word characters: "kornorm은" → "kornorm", "은"
_WORD = re.compile(r"[\uac00-\ud7a3]+|[^\W\uac00-\ud7a3]+", re.UNICODE)
_HANGUL_WORD = re.compile(r"^[\uac00-\ud7a3]+$")
# English clitics ("what's", "don't", "I'm") would leave one-letter tokens that match everywhere
_CLITIC = re.compile(r"(?<=[a-z])(?:n['\u2019]t|['\u2019](?:s|t|re|ve|ll|d|m))(?![a-z])")
# dotted abbreviations become one word, so "Ph.D." and "PhD" match: "m.s." → "ms", "ph.d." → "phd"
_DOTTED = re.compile(r"(?<![\w.])(?:[a-z]{1,2}\.)+[a-z]{1,2}\.?(?![\w])")

# bump when keyword_fields or a store's columns change: stored indexes must then be
# rebuilt (`workbench ingest` does it); 5: chunks carry the page `url` they are read on
KEYWORDS_VERSION = 5

STOPWORDS = frozenset(
    """a an the and or of to in on at for from by with about as is are was were be been being do does did
    what which who whom whose when where why how this that these those it its i me my you your yours he she
    his her they them their we our us can could would should will shall may might tell please any some
    there here have has had not no yes so if then than also just more most very""".split()
)


def detect_language(text: str) -> str:
    """'ko' when Hangul carries the message, 'en' otherwise."""
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(text))
    if hangul == 0:
        return "en"
    # Hangul syllables pack ~2-3 Latin letters of information each
    return "ko" if hangul * 2.5 >= latin * 0.5 else "en"


def contains_korean(text: str) -> bool:
    return bool(_HANGUL.search(text))


def _stem(word: str) -> str:
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def keyword_fields(text: str, *, drop_stopwords: bool = True) -> tuple[list[str], list[str]]:
    """Keyword tokens in two fields: words, and the character bigrams of Korean words.

    Words are lowercased, lightly stemmed English words and whole Korean words.
    Bigrams let a Korean noun match with any particle attached; they live in a field of
    their own so that they do not make a Korean passage look longer than an English one
    of the same length (BM25 normalises term weights by the length of their field).
    Dotted abbreviations are one word ("Ph.D." → "phd", like "PhD"); English clitics are
    dropped ("what's" → "what", "don't" → "do").
    Korean glued to a Latin word is split off: "kornorm은" → "kornorm" (a one-syllable
    particle is grammar and dropped), "HCI학회" → "hci", "학회".
    """
    text = unicodedata.normalize("NFKC", text).lower()
    text = _CLITIC.sub("", text)
    text = _DOTTED.sub(lambda m: m.group().replace(".", ""), text)
    words: list[str] = []
    bigrams: list[str] = []
    for word in text.split():
        after_latin = False
        for piece in _WORD.findall(word):
            if _HANGUL_WORD.match(piece):
                if not (after_latin and len(piece) == 1):
                    words.append(piece)
                    bigrams.extend(piece[i : i + 2] for i in range(len(piece) - 1))
                continue
            after_latin = True
            if not (drop_stopwords and piece in STOPWORDS):
                token = _stem(piece.replace("_", "")) if piece.isalpha() else piece
                if token:
                    words.append(token)
    return words, bigrams


def keyword_tokens(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Both fields of `keyword_fields` as one list of tokens (words first)."""
    words, bigrams = keyword_fields(text, drop_stopwords=drop_stopwords)
    return words + bigrams


def sparse_vector(text: str, *, dims: int = 2**31 - 1, query: bool = False) -> dict[str, list]:
    """Hashed term-frequency vector (Pinecone's sparse format) of `keyword_tokens`."""
    counts = Counter(keyword_tokens(text))
    weights: dict[int, float] = {}
    for token, tf in counts.items():
        index = zlib.crc32(token.encode()) % dims
        value = 1.0 if query else tf / (tf + 1.2)  # BM25-style saturation for documents
        weights[index] = weights.get(index, 0.0) + value
    indices = sorted(weights)
    return {"indices": indices, "values": [weights[i] for i in indices]}
