"""What every layout shares: repository files, built output, and the file kinds there are readers for.

A layout answers three questions about a site repository: which folders hold no content
(`prune`), what a file is (`place`: a Document to read, or why not), and on which page a
visitor reads it (`url`). Paths given to a layout are relative to the site root, with "/".
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from pipeline.corpus.model import Document
from pipeline.corpus.text import humanize, slugify

PAGE_SUFFIXES = {".md", ".markdown", ".mdx", ".html", ".htm"}
DATA_SUFFIXES = {".yml", ".yaml", ".json", ".toml"}
READABLE = PAGE_SUFFIXES | DATA_SUFFIXES | {".bib"}
# folders of any repository that hold no page text
BUILT = {"node_modules": "installed packages", "vendor": "vendored packages", "_site": "the built site",
         "dist": "the built site", ".jekyll-cache": "a build cache", "__pycache__": "a build cache",
         "bower_components": "installed packages"}
_REPO_FILE = re.compile(
    r"^(readme|license|licence|copying|changelog|changes|contributing|code_of_conduct|security|authors|"
    r"citation|funding|codeowners|notice)(\.[\w.]+)?$", re.IGNORECASE)
_TOOL_FILES = {"package.json", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "gemfile", "gemfile.lock",
               "go.mod", "go.sum", "netlify.toml", "vercel.json", "tsconfig.json", "jsconfig.json",
               "docker-compose.yml", "dockerfile", "makefile", "rakefile", "renovate.json", "staticman.yml",
               ".prettierrc", "pyproject.toml", "requirements.txt", "persona.yaml", "persona.yml",
               "hugoblox.yaml", "theme.toml", "codecov.yml", "purgecss.config.js", "cname"}
# a plain folder's page names → the site sections they are (the demo's Astro content folder)
SECTION_NAMES = {"full-cv": "cv", "other-experiences": "other", "publications": "papers", "profile": "about"}


def repository_file(name: str) -> str | None:
    """Why a file at the repository's top is not a page (README, LICENSE, tool configuration)."""
    lowered = name.lower()
    if lowered in ("persona.yaml", "persona.yml"):
        return "the persona (read separately)"
    if _REPO_FILE.match(name):
        return "a repository file, not a page"
    if lowered in _TOOL_FILES or lowered.endswith((".gemspec", ".lock")):
        return "a tool's configuration, not a page"
    return None


def unsupported(path: str) -> str:
    suffix = PurePosixPath(path).suffix
    return f"unsupported file type '{suffix or PurePosixPath(path).name}'"


def title_of(stem: str) -> str:
    """A file name as a fallback title: "research-statement" → "Research statement", "cv" → "CV"."""
    words = re.sub(r"^\d{4}-\d{2}-\d{2}-", "", stem).replace("_", " ").replace("-", " ").strip()
    return humanize(words) if words else stem


class Layout:
    """A plain folder of pages and data: every readable file, no page URLs."""

    name = "plain"

    def __init__(self, root: Path):
        self.root = root

    def prune(self, folder: str) -> str | None:
        return BUILT.get(PurePosixPath(folder).name)

    def place(self, path: str, source: str) -> Document | str:
        pure = PurePosixPath(path)
        if len(pure.parts) == 1 and (why := repository_file(pure.name)):
            return why
        if pure.name.lower() in ("persona.yaml", "persona.yml"):
            return "the persona (read separately)"
        if pure.suffix.lower() not in READABLE:
            return unsupported(path)
        stem = slugify(pure.stem)
        return self.document(path, source, SECTION_NAMES.get(stem, stem))

    def document(self, path: str, source: str, doc_type: str, url: str = "", title: str = "") -> Document:
        pure = PurePosixPath(path)
        return Document(path=self.root / path, source=source, doc_type=doc_type, url=url,
                        title=title or title_of(pure.stem))

    def url(self, document: Document, meta: dict) -> str:
        declared = meta.get("permalink") or meta.get("url")
        return declared if isinstance(declared, str) and declared.startswith("/") and ":" not in declared else ""

    def owner(self) -> dict:
        """What the site's configuration says about its owner (for a persona draft)."""
        return {}
