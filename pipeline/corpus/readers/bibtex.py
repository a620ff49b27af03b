"""BibTeX (`.bib`): one entry per publication, read with bibtexparser.

al-folio's publications page is only `{% bibliography %}` over `_bibliography/papers.bib`; Hugo
Blox keeps a `cite.bib` in each publication's bundle. LaTeX is decoded to text ({\\"u} → ü),
`@string` macros are resolved, and a block the parser cannot read is reported, not fatal.
"""

from __future__ import annotations

import re

import bibtexparser
from bibtexparser import middlewares

from pipeline.corpus.model import Document, Entry, Page
from pipeline.corpus.text import plain_title

# fields in the order a visitor reads a reference, with their labels
_FIELDS = (
    ("author", "Authors"), ("editor", "Editors"), ("journal", "Venue"), ("booktitle", "Venue"),
    ("howpublished", "Published"), ("school", "School"), ("institution", "Institution"),
    ("publisher", "Publisher"), ("series", "Series"), ("volume", "Volume"), ("number", "Number"),
    ("pages", "Pages"), ("address", "Location"), ("location", "Location"), ("eventtitle", "Event"),
    ("year", "Year"), ("month", "Month"), ("note", "Note"), ("award", "Award"), ("keywords", "Keywords"),
    ("abbr", "Venue short name"), ("doi", "DOI"), ("url", "URL"), ("html", "URL"), ("arxiv", "arXiv"),
    ("eprint", "arXiv"), ("code", "Code"), ("abstract", "Abstract"), ("additional_info", "Note"),
)
_KINDS = {
    "article": "Journal article", "inproceedings": "Conference paper", "conference": "Conference paper",
    "incollection": "Book chapter", "inbook": "Book chapter", "book": "Book", "phdthesis": "PhD thesis",
    "mastersthesis": "Master's thesis", "techreport": "Technical report", "misc": "Preprint or other",
    "unpublished": "Unpublished manuscript", "patent": "Patent",
}
_BRACES = re.compile(r"[{}]")


def _person(name: str) -> str:
    """"Curie, Marie" → "Marie Curie"; names already in order stay."""
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}".strip() if comma else name.strip()


def _value(field: str, raw: str) -> str:
    text = " ".join(_BRACES.sub("", raw).split())
    if field in ("author", "editor"):
        return ", ".join(_person(p) for p in re.split(r"\s+and\s+", text) if p.strip())
    return text


def _is_link(field: str, value: str) -> bool:
    return field not in ("url", "html", "doi", "code") or value.startswith(("http://", "https://", "10."))


def read_bibtex(text: str, document: Document) -> tuple[Page, list[str]]:
    """The publications of a .bib file, and a sentence for each block that could not be read."""
    library = bibtexparser.parse_string(text, append_middleware=[middlewares.LatexDecodingMiddleware()])
    entries = []
    for item in library.entries:
        fields = {name.lower(): field.value for name, field in item.fields_dict.items()}
        title = plain_title(_value("title", str(fields.get("title", "")))) or item.key
        lines = [f"Type: {_KINDS.get(item.entry_type.lower(), item.entry_type)}"]
        seen: set[str] = set()
        for field, label in _FIELDS:
            value = _value(field, str(fields.get(field, "")))
            if value and label not in seen and _is_link(field, value):
                lines.append(f"{label}: {value}")
                seen.add(label)
        entries.append(Entry(title=title, text="\n".join(lines)))
    problems = [f"line {(block.start_line or 0) + 1}: {_first_line(block.error)}" for block in library.failed_blocks]
    if not entries:
        raise ValueError("no BibTeX entries" + (f" ({problems[0]})" if problems else ""))
    return Page(title=document.title or "Publications", entries=entries), problems


def _first_line(error: Exception | None) -> str:
    lines = str(error or "").strip().splitlines()
    return lines[0][:200] if lines else "not a BibTeX entry the parser could read"
