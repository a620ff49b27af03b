"""Astro sites: `astro.config.*` at the root, content in `src/content/` collections and
`src/data/`, markdown pages in `src/pages/`. A collection entry has a page of its own only when
the site has a dynamic route for it (`src/pages/<collection>/[slug].astro`); otherwise it is
shown on the collection's page (`src/pages/<collection>.astro`), when there is one.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pipeline.corpus.layouts.base import BUILT, READABLE, SECTION_NAMES, Layout, repository_file, unsupported
from pipeline.corpus.model import Document
from pipeline.corpus.text import slugify

CONTENT = ("src/content", "src/data", "src/pages")


def is_astro(root: Path) -> bool:
    return any(root.glob("astro.config.*"))


class Astro(Layout):
    name = "astro"

    def prune(self, folder: str) -> str | None:
        pure = PurePosixPath(folder)
        if pure.name in BUILT:
            return BUILT[pure.name]
        if pure.parts[0] == "public":
            return "static files (images, downloads)"
        if pure.parts[0] == "src" and len(pure.parts) == 2 and pure.as_posix() not in CONTENT:
            return "site code (components, layouts, styles)"
        if pure.parts[0] not in ("src",) and len(pure.parts) == 1:
            return "not in src/content, src/data or src/pages"
        return None

    def place(self, path: str, source: str) -> Document | str:
        pure = PurePosixPath(path)
        if len(pure.parts) == 1:
            return repository_file(pure.name) or "site configuration, not a page"
        if pure.suffix.lower() not in READABLE:
            return unsupported(path)
        if path.startswith("src/pages/") and pure.suffix.lower() not in (".md", ".mdx", ".markdown"):
            return "an Astro page (code, not text)"
        stem = slugify(pure.stem)
        doc_type = SECTION_NAMES.get(stem, stem)
        if path.startswith("src/content/") and len(pure.parts) > 3:
            doc_type = slugify(pure.parts[2])
        return self.document(path, source, doc_type, self._route(pure))

    def _route(self, pure: PurePosixPath) -> str:
        pages = self.root / "src" / "pages"
        if pure.parts[:2] == ("src", "pages"):
            inner = PurePosixPath(*pure.parts[2:]).with_suffix("")
            return "/" if inner.as_posix() == "index" else f"/{inner.as_posix().removesuffix('/index')}/"
        if pure.parts[:2] != ("src", "content") or len(pure.parts) < 4:
            return ""
        collection, entry = pure.parts[2], PurePosixPath(*pure.parts[3:]).with_suffix("").as_posix()
        if any((pages / collection).glob("[[]*[]].astro")):
            return f"/{collection}/{entry.removesuffix('/index')}/"
        if (pages / f"{collection}.astro").exists() or (pages / collection / "index.astro").exists():
            return f"/{collection}/"
        return ""
