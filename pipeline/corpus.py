"""Read a site's content folder into chunks.

The layout is an Astro content collection: one markdown file per site section with
YAML front matter, `##`/`###` headings for entries and `---` separators, plus
optional JSON profile data. Each heading with content becomes one chunk.

The folder is written by people and tools we do not control, so reading it is bounded:
files, front matter and chunks have size limits, symlinks may not lead out of the folder,
and titles are plain text (they are shown as sources).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from html.entities import html5 as HTML5_ENTITIES
from pathlib import Path
from typing import Iterator

import yaml

from pipeline.providers.base import Chunk
from pipeline.safe_yaml import UnsafeYAMLError, load_yaml

MAX_CHUNK_CHARS = 1500
# a site page is a few KB; megabytes are a mistake or an attack, and would be read whole
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_FRONT_MATTER_CHARS = 16 * 1024
# titles are shown as sources and repeated in every embedded text of their entry
MAX_TITLE_CHARS = 200
SYMLINK_OUTSIDE = "symlink leaves the corpus folder"
SYMLINK_FOLDER = "symlink to a folder (not followed)"
SYMLINK_HIDDEN = "symlink to a hidden file or folder"
SKIPPED_NAMES = {"persona.yaml", "persona.yml"}
DOC_TYPE_ALIASES = {
    "full-cv": "cv",
    "cv": "cv",
    "other-experiences": "other",
    "publications": "papers",
    "profile": "about",
}

# the closing run of #s is taken off in code: a regex for it backtracks on long lines of spaces
_HEADING = re.compile(r"^(#{1,3})[ \t]+(.+)$")
_CLOSING_HASHES = re.compile(r"[ \t]#+$")
_SEPARATOR = re.compile(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$")
# link text may not contain "[" (a run of "[" would otherwise be rescanned from every one of them);
# the URL may hold one level of balanced parentheses, as in javascript:alert(1) or Go_(game)
_URL = r"\((?:[^()]|\([^()]*\))*\)"
_IMAGE = re.compile(r"!\[[^\[\]]*\]" + _URL)
_LINK = re.compile(r"\[([^\[\]]*)\]" + _URL)
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_AUTOLINK = re.compile(r"<((?:[A-Za-z][A-Za-z0-9+.-]{1,31}:|[^<>\s@]+@)[^<>\s]*)>")
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE)
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][^<>]*>")
# markdown decodes only references closed by ";" (CommonMark), so "R&D" or "&copy2020" stay as written
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")
_TOC_LINE = re.compile(r"^\s*(\d+\.|[-*])\s*\[[^\]]*\]\(#[^)]*\)\s*$")


class CorpusError(ValueError):
    """The corpus folder cannot be used at all (missing, or nothing usable in it)."""


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class SplitSection:
    """An entry longer than MAX_CHUNK_CHARS, stored as `parts` chunks: anchor, anchor-part-2, …"""

    source: str
    anchor: str
    parts: int


@dataclass
class Corpus:
    root: Path
    chunks: list[Chunk] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    split: list[SplitSection] = field(default_factory=list)


def slugify(text: str) -> str:
    """A heading's anchor as static-site generators make it (unicode letters kept)."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"\s+", "-", text).strip("-") or "section"


def _decode_entity(match: re.Match) -> str:
    reference = match.group(0)
    if reference[1] == "#":
        return html.unescape(reference)
    return HTML5_ENTITIES.get(reference[1:], reference)


def clean_markdown(text: str) -> str:
    """Markdown to plain text lines: link text kept; images, emphasis and HTML tags dropped.

    Entities are decoded once, last: `&lt;b&gt;` is the text "<b>" to a reader, so it is kept
    as that text (and escaped once, by whoever renders it).
    """
    lines = []
    for line in text.splitlines():
        if _TOC_LINE.match(line) or _SEPARATOR.match(line):
            continue
        line = _IMAGE.sub("", line)
        line = _LINK.sub(r"\1", line)
        line = _EMPHASIS.sub("", line)
        line = _AUTOLINK.sub(r"\1", line)
        line = _TAG.sub("", _SCRIPT.sub("", line))
        line = _ENTITY.sub(_decode_entity, line)
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def plain_title(text: str) -> str:
    """A heading, page title or JSON key as the one line of plain text shown as a source."""
    title = " ".join(clean_markdown(text).split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    cut = title[: MAX_TITLE_CHARS - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > MAX_TITLE_CHARS // 2 else cut).rstrip() + "…"


def doc_type_for(path: Path, front_matter: dict) -> str:
    declared = front_matter.get("doc_type") or front_matter.get("type")
    if isinstance(declared, str) and declared.strip():
        return slugify(declared)
    stem = slugify(path.stem)
    return DOC_TYPE_ALIASES.get(stem, stem)


def split_front_matter(text: str) -> tuple[dict, str]:
    """Return (front matter, body). Raises ValueError with a readable reason."""
    if not text.startswith("---"):
        raise ValueError("no YAML front matter (the file must start with '---')")
    parts = re.split(r"^---\s*$", text, maxsplit=2, flags=re.MULTILINE)
    if len(parts) < 3:
        raise ValueError("front matter is not closed by a second '---' line")
    if len(parts[1]) > MAX_FRONT_MATTER_CHARS:
        raise ValueError(
            f"front matter is too large ({len(parts[1]) // 1024} KB; the limit is "
            f"{MAX_FRONT_MATTER_CHARS // 1024} KB): keep the text of the page below the second '---'"
        )
    try:
        meta = load_yaml(parts[1]) or {}
    except UnsafeYAMLError as exc:
        raise ValueError(f"front matter refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark else ""
        raise ValueError(f"broken YAML front matter{where}") from None
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a YAML mapping")
    return meta, parts[2]


def _sections(body: str) -> list[tuple[list[str], str]]:
    """Split a markdown body into (heading path, content) pairs."""
    path: list[tuple[int, str]] = []
    sections: list[tuple[list[str], str]] = []
    buffer: list[str] = []
    in_code = False

    def flush() -> None:
        content = "\n".join(buffer).strip()
        if content:
            sections.append(([h for _, h in path], content))
        buffer.clear()

    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, _heading_text(match.group(2)))]
        else:
            buffer.append(line)
    flush()
    return sections


def _heading_text(raw: str) -> str:
    """The text of a heading line after its #s: an optional closing run of #s dropped
    (CommonMark: only after a space, so "C#" keeps its #), then plain text."""
    text = raw.strip()
    if text.strip("#") == "":
        return ""
    return plain_title(_CLOSING_HASHES.sub("", text))


def _line_pieces(line: str, limit: int) -> Iterator[str]:
    """A line cut into pieces of at most `limit` characters: between sentences, else between
    words, else (a run without spaces) every `limit` characters."""
    if len(line) <= limit:
        yield line
        return
    for sentence in _SENTENCE_END.split(line):
        if len(sentence) <= limit:
            yield sentence
            continue
        for word in sentence.split(" "):
            for start in range(0, len(word), limit):
                yield word[start : start + limit]


def _split_long(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """Parts of at most `limit` characters, packed greedily: whole lines where they fit,
    otherwise the sentences (or words) of a long line, so no part ends mid-word."""
    if len(text) <= limit:
        return [text]
    parts, current = [], ""
    for line in text.split("\n"):
        separator = "\n"
        for piece in _line_pieces(line, limit):
            if current and len(current) + len(separator) + len(piece) > limit:
                parts.append(current)
                current = piece
            else:
                current = f"{current}{separator}{piece}" if current else piece
            separator = " "
    if current:
        parts.append(current)
    return parts


def _make_chunk(source: str, doc_type: str, page_title: str, title: str, anchor: str, text: str) -> Chunk:
    chunk_id = f"{source}#{anchor}"
    digest = hashlib.sha1("\x1f".join((doc_type, page_title, title, text)).encode()).hexdigest()
    return Chunk(
        id=chunk_id,
        source=source,
        doc_type=doc_type,
        title=title,
        anchor=anchor,
        text=text,
        page_title=page_title,
        content_hash=digest,
    )


class Anchors:
    """Unique anchors within one page, in document order, by github-slugger's rule (the
    heading ids of Astro and most static-site generators): a slug already taken gets -1,
    -2, … of its own count until the name is free, so "Foo", "Foo", "Foo 1" become foo,
    foo-1, foo-1-1. The same file always gives the same ids."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def claim(self, slug: str) -> str:
        base, anchor = slug, slug
        while anchor in self._counts:
            self._counts[base] += 1
            anchor = f"{base}-{self._counts[base]}"
        self._counts[anchor] = 0
        return anchor


def _entry_chunks(
    source: str, doc_type: str, context: str, title: str, text: str, anchors: Anchors, split: list[SplitSection]
) -> list[Chunk]:
    """One entry's chunks: one, or a long entry's bounded parts (anchor, anchor-part-2, …)."""
    anchor = anchors.claim(slugify(title))
    parts = _split_long(text)
    if len(parts) > 1:
        split.append(SplitSection(source, anchor, len(parts)))
    anchors_of_parts = [anchor] + [anchors.claim(f"{anchor}-part-{i}") for i in range(2, len(parts) + 1)]
    return [_make_chunk(source, doc_type, context, title, a, part) for a, part in zip(anchors_of_parts, parts)]


def parse_markdown(path: Path, source: str, split: list[SplitSection] | None = None) -> list[Chunk]:
    """Chunks of one markdown page; raises ValueError with the reason it is unusable.
    Entries cut into parts are appended to `split`."""
    meta, body = split_front_matter(_read_text(path))
    page_title = plain_title(str(meta.get("title") or "")) or path.stem
    doc_type = doc_type_for(path, meta)
    chunks, anchors, split = [], Anchors(), [] if split is None else split
    for headings, content in _sections(body):
        text = clean_markdown(content)
        if not text:
            continue
        # a heading of only markup (an image, a tag) has no text: the entry takes the page's title
        headings = [h for h in headings if h]
        title = headings[-1] if headings else page_title
        context = " / ".join([page_title, *headings[:-1]])
        chunks += _entry_chunks(source, doc_type, context, title, text, anchors, split)
    if not chunks:
        raise ValueError("no text under any heading")
    return chunks


def _render_value(value) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_render_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(f"- {_render_value(v)}" for v in value)
    return str(value)


def parse_json(path: Path, source: str, split: list[SplitSection] | None = None) -> list[Chunk]:
    """Profile data: each key of `sections` (or of the top-level object) is one entry."""
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ValueError("JSON profile data must be an object")
    page_title = plain_title(str(data.get("title") or "")) or path.stem
    doc_type = doc_type_for(path, data)
    sections = data.get("sections", {k: v for k, v in data.items() if k not in {"title", "doc_type", "type"}})
    if not isinstance(sections, dict):
        raise ValueError("'sections' must be an object")
    chunks, anchors, split = [], Anchors(), [] if split is None else split
    for key, value in sections.items():
        text = _render_value(value).strip()
        if text:
            title = plain_title(str(key)) or page_title
            chunks += _entry_chunks(source, doc_type, page_title, title, text, anchors, split)
    if not chunks:
        raise ValueError("no non-empty section")
    return chunks


def _read_text(path: Path) -> str:
    # read at most one byte past the limit: the size is checked on what was read, not on a stat
    # that a file growing meanwhile (or a device behind a link) would get wrong
    with path.open("rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        size = max(path.stat().st_size, len(raw)) / (1024 * 1024)
        raise ValueError(
            f"file too large ({size:.1f} MB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB per file): "
            "split it into several pages"
        )
    if b"\x00" in raw[:8192]:
        raise ValueError("binary file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise ValueError("empty file")
    return text


PARSERS = {".md": parse_markdown, ".mdx": parse_markdown, ".markdown": parse_markdown, ".json": parse_json}


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _corpus_files(root: Path, skipped: list[SkippedFile]) -> Iterator[Path]:
    """Files under `root` in sorted order, without hidden ones. Symlinks are read only when
    they resolve to a file inside the folder: a link to ~/.aws/credentials must not become a
    quotable chunk. Links to folders are not followed (they can loop), and said so."""
    real_root = root.resolve()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if _is_hidden(relative):
            continue
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(real_root):
                skipped.append(SkippedFile(relative.as_posix(), SYMLINK_OUTSIDE))
                continue
            if _is_hidden(target.relative_to(real_root)):
                skipped.append(SkippedFile(relative.as_posix(), SYMLINK_HIDDEN))
                continue
            if target.is_dir():
                skipped.append(SkippedFile(relative.as_posix(), SYMLINK_FOLDER))
                continue
            if not target.exists():
                skipped.append(SkippedFile(relative.as_posix(), "broken symlink"))
                continue
        if path.is_file():
            yield path


def load_corpus(root: Path) -> Corpus:
    """Parse every usable file under `root`; unusable ones are listed with a reason."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist")
    if not root.is_dir():
        raise CorpusError(f"{root} is not a folder; pass the folder that holds the markdown files")
    corpus = Corpus(root=root)
    for path in _corpus_files(root, corpus.skipped):
        source = path.relative_to(root).as_posix()
        if path.name in SKIPPED_NAMES:
            continue
        parser = PARSERS.get(path.suffix.lower())
        if parser is None:
            corpus.skipped.append(SkippedFile(source, f"unsupported file type '{path.suffix or path.name}'"))
            continue
        split: list[SplitSection] = []
        try:
            chunks = parser(path, source, split)
        except OSError as exc:
            corpus.skipped.append(SkippedFile(source, f"unreadable: {exc.strerror or exc}"))
            continue
        except ValueError as exc:
            corpus.skipped.append(SkippedFile(source, str(exc)))
            continue
        except RecursionError:  # JSON nested thousands deep
            corpus.skipped.append(SkippedFile(source, "nested too deeply to read"))
            continue
        corpus.files.append(source)
        corpus.chunks.extend(chunks)
        corpus.split.extend(split)
    if not corpus.chunks:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in corpus.skipped[:5])
        raise CorpusError(
            f"no usable markdown or JSON file in {root}" + (f" ({reasons})" if reasons else " (the folder is empty)")
        )
    return corpus
