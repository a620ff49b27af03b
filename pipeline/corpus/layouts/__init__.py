"""Which kind of site a folder is: the layout decides where to look, the readers how to read.

A folder given to `workbench ingest` may be a site's root or any folder in it: the layout is
recognised from the nearest folder up (within the repository) that has a site generator's
configuration, and only the given folder is read.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.corpus.layouts.astro import Astro, is_astro
from pipeline.corpus.layouts.base import Layout
from pipeline.corpus.layouts.hugo import Hugo, is_hugo
from pipeline.corpus.layouts.jekyll import Jekyll, is_jekyll

_KINDS = ((Jekyll, is_jekyll), (Hugo, is_hugo), (Astro, is_astro))


def detect(folder: Path) -> Layout:
    """The layout of the site `folder` belongs to; a plain folder when no generator's files are found."""
    folder = Path(folder).absolute()
    for candidate in (folder, *folder.parents):
        for kind, recognises in _KINDS:
            if recognises(candidate):
                return kind(candidate)
        if (candidate / ".git").exists():
            break
    return Layout(folder)


__all__ = ["Astro", "Hugo", "Jekyll", "Layout", "detect"]
