"""Hugo sites (Hugo Blox, PaperMod, …): `hugo.toml|yaml|json`, `config.*` or `config/_default/`.

Content is `content/**` (pages, `_index.md` section pages, page bundles `<name>/index.md` with
their `cite.bib`) and `data/**` (`.yaml`, `.json`, `.toml`; Hugo Blox keeps the whole profile in
`data/authors/<name>.yaml`). Themes, layouts, static files, assets and the built `public/`
and `resources/` are not. URLs follow Hugo's rules: a section's `_index.md` is the section's
page, a bundle is the folder's page, `slug` renames the last part and `url` replaces it all.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path, PurePosixPath

from pipeline.corpus.layouts.base import (
    BUILT,
    DATA_SUFFIXES,
    PAGE_SUFFIXES,
    Layout,
    repository_file,
    title_of,
    unsupported,
)
from pipeline.corpus.model import Document
from pipeline.corpus.readers.data import SECTION_ALIASES
from pipeline.corpus.text import slugify
from pipeline.safe_yaml import load_yaml

CONFIG_FILES = ("hugo.toml", "hugo.yaml", "hugo.yml", "hugo.json", "config.toml", "config.yaml", "config.yml",
                "config.json")
THEME = {"layouts": "theme templates", "themes": "themes", "static": "static files (images, downloads)",
         "assets": "theme assets", "archetypes": "page templates", "i18n": "the theme's translations",
         "config": "site configuration", "public": "the built site", "resources": "Hugo's build cache",
         "modules": "Hugo modules"}


def is_hugo(root: Path) -> bool:
    config = any((root / name).is_file() for name in CONFIG_FILES) or (root / "config" / "_default").is_dir()
    return config and ((root / "content").is_dir() or (root / "data").is_dir())


class Hugo(Layout):
    name = "hugo"

    def __init__(self, root: Path):
        super().__init__(root)
        self.config = _config(root)

    def prune(self, folder: str) -> str | None:
        pure = PurePosixPath(folder)
        if pure.name in BUILT:
            return BUILT[pure.name]
        if len(pure.parts) == 1 and pure.parts[0] in THEME:
            return THEME[pure.parts[0]]
        return None

    def place(self, path: str, source: str) -> Document | str:
        pure = PurePosixPath(path)
        suffix = pure.suffix.lower()
        top = pure.parts[0]
        if len(pure.parts) == 1:
            if pure.name in CONFIG_FILES:
                return "site configuration (read for the owner's name)"
            return repository_file(pure.name) or "not in content/ or data/ (Hugo does not publish it as a page)"
        if top == "data":
            if suffix not in DATA_SUFFIXES:
                return unsupported(path)
            folder = pure.parts[1] if len(pure.parts) > 2 else ""
            doc_type = "about" if folder == "authors" else SECTION_ALIASES.get(pure.stem.lower(), slugify(pure.stem))
            url = "/" if folder == "authors" else ""
            return self.document(path, source, doc_type, url, title_of(pure.stem))
        if top != "content":
            return "not in content/ or data/ (Hugo does not publish it as a page)"
        inner = PurePosixPath(*pure.parts[1:])
        section = inner.parts[0] if len(inner.parts) > 1 else ""
        if suffix == ".bib":  # a bundle's citation: shown on the bundle's page
            return self.document(path, source, slugify(section) or "publications", _page_url(inner.parent),
                                 "Citation")
        if suffix not in PAGE_SUFFIXES:
            if suffix in DATA_SUFFIXES:
                return "a page resource (Hugo does not show it as text)"
            return unsupported(path)
        if not section:
            doc_type = "about" if inner.stem in ("_index", "index") else slugify(inner.stem)
        else:
            doc_type = slugify(section)
        title = title_of(inner.parent.name if inner.stem in ("index", "_index") and inner.parent.name else inner.stem)
        return self.document(path, source, doc_type, title=title)

    def url(self, document: Document, meta: dict) -> str:
        declared = meta.get("url")
        if isinstance(declared, str) and declared.strip():
            return "/" + declared.strip().strip("/") + ("/" if not declared.strip().endswith(".html") else "")
        if document.url:
            return document.url
        rel = PurePosixPath(document.path.relative_to(self.root).as_posix())
        if rel.parts[0] != "content":
            return ""
        inner = PurePosixPath(*rel.parts[1:])
        page = inner.parent if inner.stem in ("index", "_index") else inner.with_suffix("")
        slug = meta.get("slug")
        if isinstance(slug, str) and slug.strip() and inner.stem != "_index":
            page = page.parent / slug.strip().strip("/")
        return _page_url(page)

    def owner(self) -> dict:
        params: dict = self.config["params"] if isinstance(self.config.get("params"), dict) else {}
        author = params.get("author") if isinstance(params.get("author"), (dict, str)) else ""
        name = author.get("name", "") if isinstance(author, dict) else author
        return {"name": name or "", "summary": params.get("description") or self.config.get("title") or ""}


def _page_url(page: PurePosixPath) -> str:
    text = page.as_posix().strip(".").strip("/").lower()
    return f"/{text}/" if text else "/"


def _config(root: Path) -> dict:
    """The site configuration, merged from the files Hugo reads (the first found of each)."""
    merged: dict = {}
    candidates = [root / name for name in CONFIG_FILES]
    default = root / "config" / "_default"
    if default.is_dir():
        candidates += sorted(default.iterdir())
    for path in candidates:
        if not path.is_file():
            continue
        try:
            text = path.read_text("utf-8")[:500_000]
            if path.suffix == ".toml":
                data = tomllib.loads(text)
            elif path.suffix == ".json":
                data = json.loads(text)
            elif path.suffix in (".yaml", ".yml"):
                data = load_yaml(text)
            else:
                continue
        except Exception:  # noqa: BLE001 - a broken config leaves the defaults; pages are still read
            continue
        if not isinstance(data, dict):
            continue
        key = path.stem if path.parent == default and path.stem not in ("hugo", "config") else None
        if key:
            merged.setdefault(key, data)
        else:
            for k, v in data.items():
                merged.setdefault(k, v)
    return merged
