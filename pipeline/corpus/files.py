"""Walking and reading a site folder that people and tools we do not control wrote.

Reading is bounded: files have a size limit, symlinks may not lead out of the folder (a link
to ~/.aws/credentials must not become a quotable chunk), links to folders are not followed
(they can loop), and a link that loops or cannot be resolved is skipped with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.corpus.model import SkippedFile

# a site page is a few KB; megabytes are a mistake or an attack, and would be read whole
MAX_FILE_BYTES = 2 * 1024 * 1024
SYMLINK_OUTSIDE = "symlink leaves the corpus folder"
SYMLINK_FOLDER = "symlink to a folder (not followed)"
SYMLINK_HIDDEN = "symlink to a hidden file or folder"
SYMLINK_LOOP = "symlink loop (or a link that cannot be resolved)"

# which folders to leave out, and why (None: read it); given the folder's path relative to the root
Prune = Callable[[str], "str | None"]


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _link_problem(path: Path, real_root: Path) -> str | None:
    try:
        target = path.resolve()
    except (RuntimeError, OSError):  # RuntimeError: "Symlink loop" on Python < 3.13
        return SYMLINK_LOOP
    if not target.is_relative_to(real_root):
        return SYMLINK_OUTSIDE
    if not target.exists():
        return "broken symlink"
    if _is_hidden(target.relative_to(real_root)):
        return SYMLINK_HIDDEN
    if target.is_dir():
        return SYMLINK_FOLDER
    return None


def walk(root: Path, skipped: list[SkippedFile], prune: Prune | None = None) -> Iterator[tuple[str, Path]]:
    """(relative posix path, path) of every file under `root` in sorted order, hidden ones left
    out; folders `prune` names a reason for are listed once in `skipped` with their file count."""
    real_root = root.resolve()

    def on_error(error: OSError) -> None:
        where = Path(error.filename or root)
        relative = where.relative_to(root).as_posix() if where.is_relative_to(root) else str(where)
        skipped.append(SkippedFile(relative + "/", f"unreadable folder: {error.strerror or error}"))

    for folder, dirs, files in _sorted_walk(root, on_error):
        base = Path(folder).relative_to(root)
        kept = []
        for name in dirs:
            relative = base / name
            if name.startswith("."):
                continue
            if os.path.islink(os.path.join(folder, name)):
                skipped.append(SkippedFile(relative.as_posix(), _link_problem(root / relative, real_root)
                                           or SYMLINK_FOLDER))
                continue
            reason = prune(relative.as_posix()) if prune else None
            if reason:
                count = sum(len(f) for _, _, f in os.walk(root / relative))
                skipped.append(SkippedFile(relative.as_posix() + "/", f"{reason} ({count} files)"))
                continue
            kept.append(name)
        dirs[:] = kept
        for name in files:
            relative = base / name
            if name.startswith("."):
                continue
            path = root / relative
            if path.is_symlink():
                problem = _link_problem(path, real_root)
                if problem:
                    skipped.append(SkippedFile(relative.as_posix(), problem))
                    continue
            elif not path.is_file():
                skipped.append(SkippedFile(relative.as_posix(), "not a regular file"))
                continue
            yield relative.as_posix(), path


def _sorted_walk(root: Path, on_error):
    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=False):
        dirs.sort()
        files.sort()
        yield folder, dirs, files


def read_text(path: Path) -> str:
    """A file's text; raises ValueError saying why it cannot be read as a page."""
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
