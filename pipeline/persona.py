"""Who the digital twin speaks as: read from the corpus's optional `persona.yaml`."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError


class SiteLink(BaseModel):
    label: str = Field(min_length=1)
    href: str = Field(min_length=1)


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


def load_persona(corpus_dir: Path | None) -> Persona:
    """The corpus's persona, or a neutral one when the file is absent."""
    if corpus_dir is None:
        return Persona()
    for name in ("persona.yaml", "persona.yml"):
        path = Path(corpus_dir) / name
        if path.exists():
            break
    else:
        return Persona()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Persona.model_validate(data)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise PersonaError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PersonaError(f"{path}: field '{where}': {first['msg']}") from None
