"""Who the digital twin speaks as: read from the corpus's optional `persona.yaml`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from pipeline.safe_yaml import UnsafeYAMLError, load_yaml

# a persona is a few lines; anything bigger is not one
MAX_PERSONA_BYTES = 64 * 1024
ALLOWED_HREFS = "a site path (/cv, #contact, cv/papers) or an http(s):// URL"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# browsers drop tabs and newlines anywhere in a URL, strip leading spaces and controls, and read
# "\" as "/": "java\tscript:", " javascript:" and "/\evil.example" are not what they look like
_DISGUISING = re.compile(r"[\x00-\x20\x7f\\]")


def is_allowed_href(href: str) -> bool:
    """Whether a site-map href may become a link on the page: a path on the site itself, or an
    http(s) URL. Every other scheme (javascript:, data:, vbscript:, …) and protocol-relative
    "//host" (another site, with the page's scheme) are refused."""
    if not href or _DISGUISING.search(href):
        return False
    if _SCHEME.match(href):
        parts = urlsplit(href)
        return parts.scheme.lower() in ("http", "https") and href[len(parts.scheme) :].startswith("://") and bool(
            parts.netloc
        )
    return not href.startswith("//")


class SiteLink(BaseModel):
    label: str = Field(min_length=1)
    href: str = Field(min_length=1)

    @field_validator("href")
    @classmethod
    def _allowed(cls, href: str) -> str:
        if not is_allowed_href(href):
            raise PydanticCustomError("href_not_allowed", "href {href} is not allowed: use {allowed}",
                                      {"href": repr(href), "allowed": ALLOWED_HREFS})
        return href


class Persona(BaseModel):
    name: str = "the site owner"
    native_name: str = ""
    summary: str = ""
    site_map: list[SiteLink] = Field(default_factory=list)

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.native_name})" if self.native_name else self.name

    def describe(self) -> str:
        """One paragraph handed to the LM as data about the owner."""
        parts = [f"Name: {self.display_name}"]
        if self.summary:
            parts.append(f"Summary: {self.summary}")
        if self.site_map:
            parts.append("Site sections: " + ", ".join(link.label for link in self.site_map))
        return "\n".join(parts)


class PersonaError(ValueError):
    pass


def _problem(data: dict, error: Any) -> str:
    """One validation error as a sentence that names the entry and says what is expected."""
    loc, entry = error["loc"], ""
    if len(loc) >= 2 and loc[0] == "site_map" and isinstance(loc[1], int):
        link = data["site_map"][loc[1]]
        label = link.get("label") if isinstance(link, dict) else None
        entry = f"site_map entry {loc[1] + 1}" + (f" ({label!r})" if isinstance(label, str) else "") + ": "
        loc = loc[2:]
    where = ".".join(map(str, loc))
    if error["type"] == "href_not_allowed":
        return entry + error["msg"]
    if error["type"] == "string_type":
        return f"{entry}field '{where}' must be text, not {error['input']!r} (write it in quotes)"
    return f"{entry}field '{where}': {error['msg']}"


def load_persona(corpus_dir: Path | None) -> Persona:
    """The corpus's persona.yaml; without one, a persona drafted from the site's own files
    (its configuration, profile data and menus), or a neutral one."""
    if corpus_dir is None:
        return Persona()
    for name in ("persona.yaml", "persona.yml"):
        path = Path(corpus_dir) / name
        if path.exists():
            break
    else:
        if not Path(corpus_dir).is_dir():
            return Persona()
        from pipeline.corpus.owner import draft_persona

        return draft_persona(Path(corpus_dir))
    # the corpus's own rule (pipeline.corpus): a link out of the folder is not read
    if path.is_symlink() and not path.resolve().is_relative_to(Path(corpus_dir).resolve()):
        raise PersonaError(f"{path}: symlink leaves the corpus folder (copy the file into it)")
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_PERSONA_BYTES:
            raise PersonaError(f"{path}: too large ({len(raw) // 1024} KB; a persona is at most "
                               f"{MAX_PERSONA_BYTES // 1024} KB)")
        data = load_yaml(raw.decode("utf-8"), aliases=False) or {}
    except UnsafeYAMLError as exc:
        raise PersonaError(f"{path}: {exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PersonaError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise PersonaError(f"{path}: must be a YAML mapping of name, native_name, summary, site_map")
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        raise PersonaError(f"{path}: {_problem(data, exc.errors()[0])}") from None
