"""The owner from the site itself: a persona drafted from its configuration, profile data and menus.

Used when the site has no `persona.yaml`, and by `workbench persona draft`, which writes the
draft for the owner to review. Each source is tried in turn; what is missing stays empty.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.corpus.files import read_text
from pipeline.corpus.layouts import Layout, detect
from pipeline.corpus.readers.data import parse_data
from pipeline.corpus.readers.front_matter import split
from pipeline.corpus.text import clean_markdown, humanize, plain_title
from pipeline.persona import Persona, SiteLink, is_allowed_href

MAX_SUMMARY_CHARS = 400
# where a profile's data lives, by layout: JSON Resume, RenderCV, Hugo Blox authors
_PROFILE_FILES = ("assets/json/resume.json", "_data/cv.json", "_data/resume.json", "_data/cv.yml", "_data/cv.yaml",
                  "src/data/profile.json", "data/authors/me.yaml", "data/authors/admin.yaml")


def _load(path: Path) -> Any:
    try:
        return parse_data(read_text(path), path.suffix.lower())
    except (OSError, ValueError):
        return None


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("display") or value.get("full") or " ".join(
            str(value[k]) for k in ("given", "family") if value.get(k))
    return " ".join(clean_markdown(str(value or "")).split())


def _profile(root: Path) -> dict[str, str]:
    """Name and summary from the first profile data file the site has."""
    for relative in _PROFILE_FILES:
        data = _load(root / relative)
        if not isinstance(data, dict):
            continue
        record = data.get("basics") or data.get("cv") or data
        if not isinstance(record, dict):
            continue
        name = _text(record.get("name"))
        summary = _text(record.get("summary") or record.get("bio") or record.get("label") or record.get("role"))
        if name:
            return {"name": name, "summary": summary}
    return {}


def _menu(root: Path, layout: Layout) -> list[SiteLink]:
    """The site's main navigation: Jekyll's `_data/navigation.yml` or pages with `nav: true`, Hugo's menus."""
    entries: list[tuple[float, str, str]] = []
    navigation = _load(root / "_data" / "navigation.yml")
    if isinstance(navigation, dict) and isinstance(navigation.get("main"), list):
        entries += [(i, str(e.get("title", "")), str(e.get("url", ""))) for i, e in enumerate(navigation["main"])
                    if isinstance(e, dict)]
    config = getattr(layout, "config", {}) or {}
    menus = config.get("menus") or config.get("menu") or {}
    main = menus.get("main") if isinstance(menus, dict) else None
    if isinstance(main, list):
        entries += [(float(e.get("weight", i)), str(e.get("name", "")), str(e.get("url") or e.get("pageRef") or ""))
                    for i, e in enumerate(main) if isinstance(e, dict)]
    pages = root / "_pages"
    if not entries and pages.is_dir():
        for path in sorted(pages.glob("*.md")) + sorted(pages.glob("*.html")):
            try:
                meta, _ = split(read_text(path))
            except (OSError, ValueError):
                continue
            if meta.get("nav") is True and isinstance(meta.get("permalink"), str):
                order = float(meta["nav_order"]) if isinstance(meta.get("nav_order"), (int, float)) else 99.0
                entries.append((order, str(meta.get("title", path.stem)), meta["permalink"]))
    links: list = []
    for _, label, href in sorted(entries, key=lambda e: e[0]):
        label = plain_title(label)
        href = href if re.match(r"^(/|#|https?://)", href) else "/" + href.lstrip("./")
        if label and is_allowed_href(href) and label.lower() not in {link.label.lower() for link in links}:
            links.append(SiteLink(label=humanize(label) if label.islower() else label, href=href))
    return links


def draft_persona(folder: Path) -> Persona:
    """A persona from the site's own files; empty fields where the site says nothing."""
    layout = detect(Path(folder))
    owner = {k: _text(v) for k, v in layout.owner().items() if v}
    profile = _profile(layout.root)
    name = profile.get("name") or owner.get("name") or ""
    summary = profile.get("summary") or owner.get("summary") or ""
    native = ""
    match = re.match(r"^(.+?)\s*\((.+)\)$", name)  # "문하진 (Hajin Moon)": the name twice, in two scripts
    if match:
        first, second = match.groups()
        name, native = (second, first) if re.search(r"[^\x00-\x7f]", first) else (first, second)
    if len(summary) > MAX_SUMMARY_CHARS:
        summary = summary[:MAX_SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return Persona(name=name or Persona().name, native_name=native, summary=summary,
                   site_map=_menu(layout.root, layout))


def persona_yaml(persona: Persona) -> str:
    """A persona as the YAML `persona.yaml` holds, for the owner to review."""
    import yaml

    data = persona.model_dump(mode="json")
    header = "# Drafted from the site's own files by `workbench persona draft`: review every line.\n"
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
