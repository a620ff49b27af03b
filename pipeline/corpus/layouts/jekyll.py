"""Jekyll sites (al-folio, academicpages, minimal-mistakes, …): `_config.yml` at the root.

Content is pages (root or `_pages/`, markdown or HTML with front matter), collections
(`_publications/`, `_talks/`, `_projects/`, `_news/`, `_posts/`, …), data (`_data/*.yml|json`,
al-folio's `assets/json/resume.json`) and BibTeX (`_bibliography/*.bib`, read by jekyll-scholar).
The theme (`_layouts`, `_includes`, `_sass`, `assets`) and the build (`_site`) are not.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from pipeline.corpus.layouts.base import BUILT, DATA_SUFFIXES, PAGE_SUFFIXES, Layout, repository_file, unsupported
from pipeline.corpus.model import Document
from pipeline.corpus.readers.data import SECTION_ALIASES
from pipeline.corpus.readers.front_matter import split
from pipeline.corpus.text import slugify
from pipeline.safe_yaml import load_yaml

THEME = {"_layouts": "theme templates", "_includes": "theme templates", "_sass": "theme styles",
         "_plugins": "build plugins", "_drafts": "unpublished drafts", "markdown_generator": "the theme's scripts",
         "scripts": "scripts", "bin": "scripts", "images": "images", "img": "images", "fonts": "fonts",
         "_scripts": "scripts", "lighthouse_badges": "images"}
# _data files that are the theme's own settings, not the owner's
THEME_DATA = {"navigation", "ui-text", "ui_text", "theme", "authors_settings", "citations_settings"}
DATA_PAGE = re.compile(r"site\.data\.([A-Za-z0-9_-]+)")
_DATED = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")
_PERMALINK_STYLES = {"date": "/:categories/:year/:month/:day/:title:output_ext",
                     "pretty": "/:categories/:year/:month/:day/:title/",
                     "ordinal": "/:categories/:year/:y_day/:title:output_ext", "none": "/:categories/:title:output_ext"}


def is_jekyll(root: Path) -> bool:
    return (root / "_config.yml").is_file() or (root / "_config.yaml").is_file()


class Jekyll(Layout):
    name = "jekyll"

    def __init__(self, root: Path):
        super().__init__(root)
        self.config = _config(root)
        collections = self.config.get("collections") or {}
        if isinstance(collections, list):
            collections = {name: {} for name in collections if isinstance(name, str)}
        self.collections = {str(k): (v if isinstance(v, dict) else {}) for k, v in collections.items()}
        self.collections.setdefault("posts", {})
        self._pages: dict[str, str] | None = None

    # -- what to read ------------------------------------------------------------------------

    def prune(self, folder: str) -> str | None:
        pure = PurePosixPath(folder)
        top = pure.parts[0]
        if top in BUILT or pure.name in BUILT:
            return BUILT.get(top) or BUILT[pure.name]
        if top in THEME and len(pure.parts) == 1:
            return THEME[top]
        if top == "assets" and len(pure.parts) > 1 and pure.parts[1] != "json":
            return "theme assets"  # al-folio's JSON Resume lives in assets/json/
        return None

    def place(self, path: str, source: str) -> Document | str:
        pure = PurePosixPath(path)
        suffix = pure.suffix.lower()
        top = pure.parts[0]
        if len(pure.parts) == 1:
            if pure.name.startswith("_config"):
                return "site configuration (read for the owner's name)"
            if why := repository_file(pure.name):
                return why
            if pure.name.lower() in ("404.md", "404.html"):
                return "the site's error page"
        if suffix == ".bib":  # jekyll-scholar's bibliography, or a .bib offered for download as it is
            url = self._page_using("bibliography") if top == "_bibliography" else f"/{path}"
            return self.document(path, source, "publications", url, "Publications")
        if top == "_data":
            if suffix not in DATA_SUFFIXES:
                return unsupported(path)
            if pure.stem.lower() in THEME_DATA:
                return "the theme's settings, not the owner's"
            return self.document(path, source, _data_type(pure.stem), self._page_using(pure.stem))
        if top == "assets":
            if suffix == ".json":  # al-folio's JSON Resume, shown on the CV page
                return self.document(path, source, "cv", self._page_using(pure.stem), "CV")
            return unsupported(path)
        if suffix not in PAGE_SUFFIXES:
            return unsupported(path)
        if top.startswith("_") and top != "_pages":
            collection = top[1:]
            if collection not in self.collections:
                return f"'{top}' is not a collection in _config.yml (Jekyll does not publish it)"
            return self.document(path, source, slugify(collection))
        return self.document(path, source, slugify(pure.stem if pure.stem != "index" else "about"))

    # -- where a visitor reads it --------------------------------------------------------------

    def url(self, document: Document, meta: dict) -> str:
        rel = PurePosixPath(document.path.relative_to(self.root).as_posix())
        permalink = meta.get("permalink")
        top = rel.parts[0]
        if document.url:
            return document.url
        if top.startswith("_") and top[1:] in self.collections:
            collection = top[1:]
            pattern = permalink or self.collections[collection].get("permalink")
            if collection == "posts":
                pattern = pattern or self.config.get("permalink") or "date"
            pattern = pattern or "/:collection/:path:output_ext"
            return _expand(str(pattern), collection, rel, meta)
        if top.startswith("_") and top != "_pages":
            return ""
        if isinstance(permalink, str):
            return _expand(permalink, "", rel, meta)
        stem = rel.with_suffix("").as_posix().removeprefix("_pages/")
        return "/" if stem == "index" else f"/{stem.removesuffix('/index')}.html"

    def _page_using(self, name: str) -> str:
        """The URL of the page that shows a data file or the bibliography (found by the Liquid in it)."""
        if self._pages is None:
            self._pages = self._scan_pages()
        if name in self._pages:
            return self._pages[name]
        if name in ("resume", "cv"):
            return self._pages.get("cv", self._pages.get("resume", ""))
        return ""

    def _scan_pages(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for folder in (self.root, self.root / "_pages"):
            for path in sorted(folder.glob("*")):
                if path.suffix.lower() not in PAGE_SUFFIXES or not path.is_file() or path.is_symlink():
                    continue
                try:
                    meta, body = split(path.read_text("utf-8")[:200_000])
                except (OSError, ValueError, UnicodeDecodeError):
                    continue
                rel = path.relative_to(self.root).as_posix()
                url = self.url(Document(path, rel, ""), meta)
                if not url:
                    continue
                found.setdefault(slugify(path.stem), url)
                if "{% bibliography" in body:
                    found.setdefault("bibliography", url)
                for name in DATA_PAGE.findall(body):
                    found.setdefault(name, url)
                layout = meta.get("layout")
                if isinstance(layout, str) and layout in ("cv", "resume"):
                    found.setdefault("cv", url)
        return found

    def owner(self) -> dict:
        config, author = self.config, self.config.get("author")
        author = author if isinstance(author, dict) else {}
        name = " ".join(str(config.get(k) or "") for k in ("first_name", "middle_name", "last_name")).split()
        return {
            "name": author.get("name") or " ".join(name) or config.get("title") or "",
            "summary": author.get("bio") or config.get("description") or "",
            "location": author.get("location") or "",
            "employer": author.get("employer") or "",
        }


def _config(root: Path) -> dict:
    for name in ("_config.yml", "_config.yaml"):
        path = root / name
        if path.is_file():
            try:
                data = load_yaml(path.read_text("utf-8")[:500_000])
            except Exception:  # noqa: BLE001 - a broken config leaves the defaults; pages are still read
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def _data_type(stem: str) -> str:
    key = stem.lower().replace("-", "_")
    return SECTION_ALIASES.get(key, slugify(stem))


def _expand(pattern: str, collection: str, rel: PurePosixPath, meta: dict) -> str:
    """A Jekyll permalink pattern with a document's placeholders filled in."""
    pattern = _PERMALINK_STYLES.get(pattern, pattern)
    inner = PurePosixPath(*rel.parts[1:]) if rel.parts[0].startswith("_") else rel
    name = inner.stem
    dated = _DATED.match(name)
    date = str(meta.get("date") or "")
    year, month, day = (dated.group(1), dated.group(2), dated.group(3)) if dated else (date[:4], date[5:7], date[8:10])
    title = slugify(dated.group(4) if dated else name)
    values = {":collection": collection, ":path": inner.with_suffix("").as_posix(), ":name": name,
              ":basename": name, ":title": title, ":slug": title, ":year": year, ":month": month,
              ":i_month": month.lstrip("0"), ":day": day, ":i_day": day.lstrip("0"), ":categories": "",
              ":output_ext": ".html", ":y_day": ""}
    for key in sorted(values, key=len, reverse=True):
        pattern = pattern.replace(key, values[key])
    return "/" + re.sub(r"/{2,}", "/", pattern).lstrip("/")
