"""Read a site's content folder into chunks.

The layout is an Astro content collection: one markdown file per site section with
YAML front matter, `##`/`###` headings for entries and `---` separators, plus
optional JSON profile data. Each heading with content becomes one chunk.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.providers.base import Chunk

MAX_CHUNK_CHARS = 1500
SKIPPED_NAMES = {"persona.yaml", "persona.yml"}
DOC_TYPE_ALIASES = {
    "full-cv": "cv",
    "cv": "cv",
    "other-experiences": "other",
    "publications": "papers",
    "profile": "about",
}

_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$")
_SEPARATOR = re.compile(r"^\s*(-{3,}|\*{3,}|_{3,})\s*$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
_TOC_LINE = re.compile(r"^\s*(\d+\.|[-*])\s*\[[^\]]*\]\(#[^)]*\)\s*$")


class CorpusError(ValueError):
    """The corpus folder cannot be used at all (missing, or nothing usable in it)."""


@dataclass
class SkippedFile:
    path: str
    reason: str


@dataclass
class Corpus:
    root: Path
    chunks: list[Chunk] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def slugify(text: str) -> str:
    """A heading's anchor as static-site generators make it (unicode letters kept)."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"\s+", "-", text).strip("-") or "section"


def clean_markdown(text: str) -> str:
    """Markdown to plain text lines: link text kept, images and emphasis dropped."""
    lines = []
    for line in text.splitlines():
        if _TOC_LINE.match(line) or _SEPARATOR.match(line):
            continue
        line = _IMAGE.sub("", line)
        line = _LINK.sub(r"\1", line)
        line = _EMPHASIS.sub("", line)
        line = re.sub(r"[ \t]+", " ", line).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


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
    try:
        meta = yaml.safe_load(parts[1]) or {}
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
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, clean_markdown(match.group(2)))]
        else:
            buffer.append(line)
    flush()
    return sections


def _split_long(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    if len(text) <= limit:
        return [text]
    parts, current = [], ""
    for paragraph in text.split("\n"):
        if current and len(current) + len(paragraph) + 1 > limit:
            parts.append(current)
            current = paragraph
        else:
            current = f"{current}\n{paragraph}" if current else paragraph
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


def _unique(anchor: str, seen: dict[str, int]) -> str:
    count = seen.get(anchor, 0)
    seen[anchor] = count + 1
    return anchor if count == 0 else f"{anchor}-{count}"


def parse_markdown(path: Path, source: str) -> list[Chunk]:
    """Chunks of one markdown page; raises ValueError with the reason it is unusable."""
    meta, body = split_front_matter(_read_text(path))
    page_title = str(meta.get("title") or path.stem)
    doc_type = doc_type_for(path, meta)
    chunks, seen = [], {}
    for headings, content in _sections(body):
        text = clean_markdown(content)
        if not text:
            continue
        title = headings[-1] if headings else page_title
        context = " / ".join([page_title, *headings[:-1]])
        anchor = _unique(slugify(title), seen)
        for i, part in enumerate(_split_long(text)):
            part_anchor = anchor if i == 0 else f"{anchor}~{i + 1}"
            chunks.append(_make_chunk(source, doc_type, context, title, part_anchor, part))
    if not chunks:
        raise ValueError("no text under any heading")
    return chunks


def _render_value(value) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_render_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(f"- {_render_value(v)}" for v in value)
    return str(value)


def parse_json(path: Path, source: str) -> list[Chunk]:
    """Profile data: each key of `sections` (or of the top-level object) is one chunk."""
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ValueError("JSON profile data must be an object")
    page_title = str(data.get("title") or path.stem)
    doc_type = doc_type_for(path, data)
    sections = data.get("sections", {k: v for k, v in data.items() if k not in {"title", "doc_type", "type"}})
    if not isinstance(sections, dict):
        raise ValueError("'sections' must be an object")
    chunks, seen = [], {}
    for key, value in sections.items():
        text = _render_value(value).strip()
        if text:
            chunks.append(_make_chunk(source, doc_type, page_title, str(key), _unique(slugify(str(key)), seen), text))
    if not chunks:
        raise ValueError("no non-empty section")
    return chunks


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
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


def load_corpus(root: Path) -> Corpus:
    """Parse every usable file under `root`; unusable ones are listed with a reason."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist")
    if not root.is_dir():
        raise CorpusError(f"{root} is not a folder; pass the folder that holds the markdown files")
    corpus = Corpus(root=root)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        source = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts) or path.name in SKIPPED_NAMES:
            continue
        parser = PARSERS.get(path.suffix.lower())
        if parser is None:
            corpus.skipped.append(SkippedFile(source, f"unsupported file type '{path.suffix or path.name}'"))
            continue
        try:
            chunks = parser(path, source)
        except OSError as exc:
            corpus.skipped.append(SkippedFile(source, f"unreadable: {exc.strerror or exc}"))
            continue
        except ValueError as exc:
            corpus.skipped.append(SkippedFile(source, str(exc)))
            continue
        corpus.files.append(source)
        corpus.chunks.extend(chunks)
    if not corpus.chunks:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in corpus.skipped[:5])
        raise CorpusError(
            f"no usable markdown or JSON file in {root}" + (f" ({reasons})" if reasons else " (the folder is empty)")
        )
    return corpus
