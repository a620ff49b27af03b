"""Front matter (YAML `---`, TOML `+++`, JSON `{`), read with python-frontmatter's handlers.

On many sites front matter is the record: a publication's venue, date and citation, a talk's
event and place, a Hugo Blox page built entirely from `sections:` blocks. The fields a visitor
would read become the page's first entry as "Label: value" lines; theme fields do not.
YAML goes through the alias-free loader, so a front-matter bomb is refused like a data file's.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import BaseHandler, JSONHandler, YAMLHandler

from pipeline.corpus.model import Document, Page
from pipeline.corpus.readers.data import THEME_KEYS, record_entries
from pipeline.corpus.text import plain_title, slugify
from pipeline.safe_yaml import UnsafeYAMLError, load_yaml

MAX_FRONT_MATTER_CHARS = 64 * 1024


class _SafeYAML(YAMLHandler):
    def load(self, fm: str, **kwargs: object) -> Any:
        try:
            return load_yaml(fm)
        except UnsafeYAMLError as exc:
            raise ValueError(f"front matter refused: {exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 2}" if mark else ""
            raise ValueError(f"broken YAML front matter{where}") from None


class _TOML(BaseHandler):
    FM_BOUNDARY = re.compile(r"^\+{3,}\s*$", re.MULTILINE)
    START_DELIMITER = END_DELIMITER = "+++"

    def load(self, fm: str, **kwargs: object) -> Any:
        try:
            return tomllib.loads(fm)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"broken TOML front matter: {exc}") from None


class _JSON(JSONHandler):
    def load(self, fm: str, **kwargs: object) -> Any:
        try:
            return super().load(fm)
        except ValueError as exc:
            raise ValueError(f"broken JSON front matter: {exc}") from None


HANDLERS = [_SafeYAML(), _TOML(), _JSON()]


def split(text: str) -> tuple[dict, str]:
    """(front matter, body); no front matter is ({}, text). Raises ValueError saying what is broken."""
    handler = frontmatter.detect_format(text, HANDLERS)
    if handler is None:
        return {}, text
    try:
        raw, body = handler.split(text)
    except ValueError:
        delimiter = handler.START_DELIMITER or "}"
        raise ValueError(f"front matter is not closed by a second '{delimiter}' line") from None
    if len(raw) > MAX_FRONT_MATTER_CHARS:
        raise ValueError(
            f"front matter is too large ({len(raw) // 1024} KB; the limit is "
            f"{MAX_FRONT_MATTER_CHARS // 1024} KB): keep the text of the page below it"
        )
    meta = handler.load(raw) if raw.strip() else {}
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ValueError("front matter is not a mapping of fields")
    return meta, body


def _unpublished(meta: dict) -> str:
    if meta.get("published") is False:
        return "not published (published: false)"
    if meta.get("draft") is True:
        return "a draft (draft: true)"
    return ""


# fields that describe a page rather than state facts of their own
SUMMARY_FIELDS = {"description", "summary", "excerpt", "subtitle", "date", "tags", "categories", "keywords",
                  "lastmod", "author", "authors"}


def only_summary(page: Page) -> bool:
    """Whether the page's front-matter record holds only summary fields (or there is none)."""
    if not page.entries or page.entries[0].title:
        return False
    fields = {str(k).lower() for k in page.meta} - {"title", "linktitle"}
    return fields <= SUMMARY_FIELDS | THEME_KEYS


def page_of(text: str, document: Document, *, required: bool = False) -> tuple[Page, str]:
    """The page its front matter describes, with that record as its first entry; and the body."""
    meta, body = split(text)
    if required and not meta:
        raise ValueError("no front matter: the site generator copies it as it is (a template or asset)")
    raw_title = meta.get("title") or meta.get("linktitle") or ""
    title = plain_title(str(raw_title)) if isinstance(raw_title, (str, int, float)) else ""
    declared = meta.get("doc_type")
    page = Page(title=title or document.title or document.path.stem, entries=[], meta=meta,
                doc_type=slugify(declared) if isinstance(declared, str) and declared.strip() else "",
                unpublished=_unpublished(meta))
    fields = {k: v for k, v in meta.items() if str(k).lower() not in ("title", "linktitle")}
    page.entries.extend(record_entries(fields, "", []))
    return page, body
