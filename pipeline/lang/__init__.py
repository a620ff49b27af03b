"""Language knowledge as data: one YAML pack per language, validated, merged for the program.

A pack (`en.yaml`, `ko.yaml`) holds what the program knows about a language's words —
exemplars for the planner, injection and follow-up patterns, time words, section cues,
the retrieval glossary, field names, stop words, personal facts — and the fixed replies
it speaks in that language. `Knowledge` is every pack merged (a visitor may mix languages)
plus per-language replies. A saved program stores only its overrides of the packs and the
packs' hash (`Knowledge.fingerprint`), not a second copy.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pipeline.lang.knowledge import Knowledge
from pipeline.lang.pack import (
    LABELS,
    DuplicateKeyError,
    FieldNames,
    Label,
    LanguagePack,
    LanguagePackError,
    Replies,
    merge,
    read_pack,
)
from pipeline.lang.words import FALLBACK, PREFIX, abbreviation_pattern, bare, word_pattern

__all__ = ["FALLBACK", "LABELS", "LANG_DIR", "PREFIX", "DuplicateKeyError", "FieldNames", "Knowledge", "Label",
           "LanguagePack", "LanguagePackError", "Replies", "abbreviation_pattern", "bare", "default_knowledge",
           "load_knowledge", "merge", "read_pack", "word_pattern"]

# the packs ship as package data (importlib.resources: wherever the package is installed)
LANG_DIR = resources.files("pipeline.lang")


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
