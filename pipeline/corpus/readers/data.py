"""Structured data (YAML, JSON, TOML data files; front matter) as entries a visitor would read.

A CV kept as data (JSON Resume, RenderCV's `cv.yml`, a Hugo Blox author file, a theme's
`_data/cv.json`) is lists of records: each record is one entry ("PhD, University of Zurich"),
titled by its most identifying field, with its fields as "Label: value" lines, under the
list's name as its section. Mappings that hold lists of records are sections themselves;
small mappings and lists of words stay on their record as one line. Keys that only drive a
theme (layout, images, colours) are not text.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from typing import Any

import jiter
import yaml

from pipeline.corpus.model import Document, Entry, Page
from pipeline.corpus.readers.blocks import markdown_blocks
from pipeline.corpus.text import clean_markdown, humanize, plain_title, strip_templates
from pipeline.safe_yaml import UnsafeYAMLError, load_yaml

# keys whose values drive a theme or a build, never text a visitor reads (compared lower-cased)
THEME_KEYS = frozenset("""
layout permalink slug url aliases redirect_from redirect_to redirect classes class sidebar author_profile
toc toc_label toc_icon toc_sticky nav nav_order weight draft published featured math mermaid comments share
related header excerpt_separator menu img image images preview thumbnail cover banner avatar icon logo
og_image teaser importance bibtex_show selected selected_papers giscus disqus pretty_table chart map tikzjax
typograms _build build cascade outputs lastmod expirydate hidden inline news social profile_image
design block id css_class css_style background spacing columns view page_type filters count offset order
date_format show_date show_related reading_time pager editable highlight js css scripts styles
doc_type enable_emoji tags_as_list section_pages sitemap robots canonical locale locale_catalog
rendercv_settings theme theme_options options header_image header_overlay overlay_image overlay_filter
gallery feature_row collection category_layout image_preview url_slides_file
button headings cta schema align image_circular avatar_shape
""".split())
# a small mapping of these only dresses a page (al-folio's profile: image, align, circular)
_ASSET = re.compile(r"\.(png|jpe?g|gif|svg|webp|avif|ico|css|js|woff2?)$", re.IGNORECASE)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_-]*$")
_CODE_VALUED = {"type", "category", "collection", "kind", "categories"}

# the item's name, in the order a visitor would recognise it by; a role or degree is named with where
_NAMES = ("title", "name", "award", "label", "event", "language", "network", "summary")
_ROLES = ("position", "role", "degree", "studytype")
# where it was, appended to a role or a degree ("Research Intern, Acme Labs")
_PLACES = ("company", "institution", "organization", "organisation", "org", "employer", "school", "university")
# start/end pairs shown as one "Dates" line
_DATE_PAIRS = (("startdate", "enddate"), ("start_date", "end_date"), ("date_start", "date_end"),
               ("start", "end"), ("from", "to"))
# list sections named like this are these site sections (for the planner's section cues)
SECTION_ALIASES = {
    "work": "experience", "jobs": "experience", "employment": "experience", "positions": "experience",
    "volunteer": "experience", "honors": "awards", "honours": "awards", "awards": "awards",
    "education": "education", "publications": "publications", "papers": "publications",
    "projects": "projects", "skills": "skills", "languages": "languages", "talks": "talks",
    "presentations": "talks", "teaching": "teaching", "certificates": "awards", "interests": "interests",
    "experience": "experience", "basics": "about", "profile": "about", "bio": "about",
}
# a list item may be written as {name: ..., value: ...} (al-folio's cv.yml "map" sections)
_PAIR_KEYS = ({"name", "value"}, {"label", "details"}, {"key", "value"})
SHORT = 80
# wrappers whose name is not a heading: their keys are the sections (Astro profile data, RenderCV)
_TRANSPARENT = {"sections", "cv"}
# list keys that name nothing: their entry takes the title of the record they are in
_GENERIC = {"items", "entries", "list", "values", "content", "details", "contents"}


class DataError(ValueError):
    pass


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, dt.date, dt.datetime))


def _text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ", "minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    if _TIMESTAMP.match(text):  # "2022-09-21 09:30:00 +0100": the day is what a visitor reads
        return text[:10]
    return clean_markdown(text)


def theme_key(key: str, value: Any) -> bool:
    """Whether a field only drives the theme: a theme key, a flag, an image or stylesheet path."""
    lowered = str(key).lower()
    if lowered in THEME_KEYS or lowered.startswith(("_", "image_", "img_", "css_", "show_")):
        return True
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        if _ASSET.search(value.strip()):
            return True
        if lowered in _CODE_VALUED and _IDENTIFIER.match(value.strip()):
            return True
    return False


def _small_record(value: Any) -> str | None:
    """A record of at most three short values as one line ("English: Native, 5"); None if it is more,
    or if it is a job, a degree or anything dated (those are entries of their own)."""
    if not isinstance(value, dict) or not all(_scalar(v) for v in value.values()):
        return None
    keys = {str(k).lower() for k in value}
    if keys & {*_ROLES, *_PLACES, "date", "year"} or _dates(value)[0]:
        return None
    shown = [_text(v) for k, v in value.items() if not theme_key(k, v) and _text(v)]
    if not shown or len(shown) > 3 or any(len(v) > SHORT for v in shown):
        return None
    return shown[0] + (f": {', '.join(shown[1:])}" if len(shown) > 1 else "")


def _inline_list(values: list) -> str | None:
    """A list of words on one line; None when it holds records or is too long for one."""
    parts = []
    for value in values:
        if _scalar(value):
            parts.append(_text(value))
        else:
            return None
    parts = [p for p in parts if p]
    line = ", ".join(parts)
    # words and names stay on one line; sentences (a CV's highlights) each get their own
    return line if all(len(p) <= 40 and len(p.split()) <= 4 for p in parts) and "\n" not in line else None


def _pair(item: Any) -> tuple[str, str] | None:
    if isinstance(item, dict) and set(item) in _PAIR_KEYS:
        key, value = ("name", "value") if "name" in item else ("label", "details") if "label" in item else ("key", "value")
        if _scalar(item[key]) and _scalar(item[value]):
            return _text(item[key]), _text(item[value])
    return None


def _is_record_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(v, dict) for v in value) and _inline_list(value) is None


def _is_section(value: Any) -> bool:
    """A mapping that holds lists of records or other sections: its keys are entries of their own."""
    if not isinstance(value, dict) or not value:
        return False
    nested = [v for v in value.values() if isinstance(v, dict) and v or _is_record_list(v)]
    return bool(nested) and len(nested) * 2 >= len(value)


def identify(item: dict) -> str:
    """The record's most identifying text: its role or title, and where ("Research Intern, Acme Labs");
    else its name."""
    fields = {str(k).lower(): _text(v) for k, v in item.items() if _scalar(v) and _text(v)}
    if isinstance(item.get("content"), dict) and not any(n in fields for n in _NAMES):
        return identify(item["content"])
    role = next((fields[k] for k in _ROLES if k in fields), "")
    place = next((fields[k] for k in _PLACES if k in fields), "")
    title = next((fields[k] for k in _NAMES if k in fields), "")
    if role:
        where = place or fields.get("name", "")
        return plain_title(f"{role}, {where}" if where and where != role else role)
    if title:
        return plain_title(f"{title}, {place}" if place and place != title and "title" in fields else title)
    return plain_title(place)


def _dates(item: dict) -> tuple[str | None, set[str]]:
    lowered = {str(k).lower(): k for k in item}
    for start, end in _DATE_PAIRS:
        if start in lowered and _scalar(item[lowered[start]]):
            begin = _text(item[lowered[start]])
            finish = _text(item.get(lowered.get(end, ""), "")) if end in lowered else ""
            finish = finish or ("present" if end in lowered else "")
            if begin:
                return (f"{begin} – {finish}" if finish else begin), {lowered[start], lowered.get(end, "")}
    return None, set()


def _lines(key: str, value: Any) -> list[str] | None:
    """A field as lines of its record, or None when it is a section of its own."""
    label = humanize(str(key))
    if _scalar(value):
        text = _text(value)
        if not text:
            return []
        if "\n" in str(value):
            lines = [b.text for b in markdown_blocks(strip_templates(str(value)))]
            return [f"{label}: {lines[0]}", *lines[1:]] if lines else []
        return [f"{label}: {text}"]
    if isinstance(value, list):
        pairs = [_pair(v) for v in value]
        if value and all(pairs):
            return [f"{pair[0]}: {pair[1]}" for pair in pairs if pair]
        inline = _inline_list(value)
        if inline is not None:
            return [f"{label}: {inline}"] if inline else []
        if not any(isinstance(v, dict) for v in value):
            return [f"{label}:"] + [f"- {_text(v)}" for v in value if _scalar(v) and _text(v)]
        return None
    if isinstance(value, dict) and not _is_section(value):
        shown = {k: v for k, v in value.items() if not theme_key(k, v)}
        if shown and all(_scalar(v) for v in shown.values()):
            words = [_text(v) for v in shown.values() if _text(v)]
            if sum(map(len, words)) <= SHORT and len(shown) <= 4:
                return [f"{label}: {' '.join(words)}"] if words else []
            return [f"{label} {humanize(str(k)).lower()}: {_text(v)}" for k, v in shown.items() if _text(v)]
        return None
    return None


def record_entries(record: dict, title: str, context: list[str], doc_type: str = "", *,
                   container: bool = False) -> list[Entry]:
    """A record's own fields as one entry (first), then its sections' entries. In a mapping that
    is mostly sections (a profile's `sections`, a JSON Resume), every nested value is one."""
    record = {k: v for k, v in record.items() if not theme_key(k, v)}
    if isinstance(record.get("content"), dict) and set(record) <= {"content", "title"}:
        return record_entries(record["content"], title, context, doc_type)  # a Hugo Blox block
    every_key = container  # a declared wrapper (`sections:`): each key is an entry, even a plain value
    container = container or _is_section(record)
    dates, dated = _dates(record)
    lines = [f"Dates: {dates}"] if dates else []
    children: list[Entry] = []
    inner = context + [title] if title else context
    for key, value in record.items():
        if key in dated or (_scalar(value) and plain_title(_text(value)) == title):
            continue  # the record's name is its title, not a line of it
        nested = isinstance(value, (dict, list)) and bool(value)
        field = None if (container and nested) or (every_key and _text(value) if _scalar(value) else False) \
            else _lines(key, value)
        if field is not None:
            lines += field
        elif str(key).lower() in _TRANSPARENT and isinstance(value, dict):
            # `sections:` (an Astro profile's, RenderCV's) names its entries by key, even a plain value;
            # `cv:` wraps a person's own fields (name, email) and their sections
            children += record_entries(value, "", inner, doc_type, container=str(key).lower() == "sections")
        else:
            children += section_entries(str(key), value, inner, doc_type)
    own = [Entry(title=title, text="\n".join(lines), context=context, doc_type=doc_type)] if lines else []
    return own + children


def section_entries(key: str, value: Any, context: list[str], doc_type: str = "") -> list[Entry]:
    """A section of data: a list of records (one entry each) or a mapping (one entry, by its key)."""
    label = plain_title(humanize(key))
    section_type = doc_type or SECTION_ALIASES.get(key.lower().replace(" ", "_"), "")
    if isinstance(value, dict):
        return record_entries(value, label, context, section_type)
    inner = context if key.lower() in _TRANSPARENT else context + [label]
    entries: list[Entry] = []
    loose: list[str] = []
    if key.lower() in _GENERIC and context:
        label = context[-1]
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            pair = _pair(item)
            small = None if pair else _small_record(item)
            if pair or small:
                loose.append(f"{pair[0]}: {pair[1]}" if pair else str(small))
            else:
                entries += record_entries(item, identify(item) or label, inner, section_type)
        elif isinstance(item, list):
            entries += section_entries(key, item, context, doc_type)
        elif _text(item):
            loose.append(f"- {_text(item)}")
    if loose:
        entries.insert(0, Entry(title=label, text="\n".join(loose), context=context, doc_type=section_type))
    return entries


def data_entries(data: Any, title: str) -> list[Entry]:
    """Every entry of a data file's content."""
    if isinstance(data, dict):
        return record_entries(data, "", [], "")
    return section_entries(title, data, [], "")


def parse_data(text: str, suffix: str) -> Any:
    """Parse a data file by its extension; a DataError says where it is broken."""
    try:
        if suffix == ".json":
            return jiter.from_json(text.encode("utf-8"))
        if suffix == ".toml":
            return tomllib.loads(text)
        return load_yaml(text)
    except UnsafeYAMLError as exc:
        raise DataError(f"refused: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DataError("broken YAML" + (f" at line {mark.line + 1}" if mark else "")) from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"broken TOML: {exc}") from None
    except ValueError as exc:  # jiter: "expected ',' or '}' after an object entry at line 3 column 5"
        if "recursion limit" in str(exc):
            raise DataError("nested too deeply to read") from None
        raise DataError(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise DataError("nested too deeply to read") from None


def read_data(text: str, document: Document) -> Page:
    """A YAML, JSON or TOML data file: its records as entries."""
    data = parse_data(text, document.path.suffix.lower())
    if not isinstance(data, (dict, list)):
        raise DataError("a data file must hold a mapping or a list")
    meta = data if isinstance(data, dict) else {}
    title = plain_title(_text(meta.get("title", ""))) if _scalar(meta.get("title")) else ""
    name = meta.get("name")
    name = name.get("display") or name.get("full") if isinstance(name, dict) else name
    person = plain_title(_text(name)) if _scalar(name) and "authors" in document.path.parts else ""
    declared = str(meta.get("doc_type")) if isinstance(meta.get("doc_type"), str) else ""
    page_title = title or person or document.title
    if isinstance(data, dict) and title:
        data = {k: v for k, v in data.items() if k != "title"}
    entries = data_entries(data, page_title)
    if not entries:
        raise DataError("no text in it (only settings or empty values)")
    return Page(title=page_title, entries=entries, doc_type=declared)
