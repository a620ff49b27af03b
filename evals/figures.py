"""The README's figures, from the committed baselines (what `make eval` holds every change to).

`workbench figures` prints the table; `--readme` rewrites it between the README's markers, and a
test fails when the README's copy differs from the baselines: figures in the docs cannot go stale.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

START, END = "<!-- figures:start -->", "<!-- figures:end -->"
COLUMNS = ("score", "hit@1", "hit@5", "fact@240", "not_denied", "refusal_correct", "says_unknown",
           "language_match", "chat_consistency")
HEADERS = ("score", "hit@1", "hit@5", "fact@240", "not denied", "refusal", "says unknown", "language",
           "chat = alone")


def baselines(root: Path) -> list[Path]:
    """Every dataset's baselines, the demo's first, single before chat."""
    return sorted(root.glob("**/baseline*.json"),
                  key=lambda p: (p.parent != root, str(p.parent), "conversation" in p.name))


def _cell(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def table(root: Path) -> str:
    rows = ["| dataset | run | questions | " + " | ".join(HEADERS) + " |",
            "|---|---|---|" + "---|" * len(HEADERS)]
    for path in baselines(root):
        summary = json.loads(path.read_text(encoding="utf-8"))["summary"]
        name = str(Path(summary["dataset"]).parent.relative_to(root.name)) if summary.get("dataset") else path.parent.name
        name = "demo" if name == "." else name
        run = "one chat" if summary.get("conversation") else "single"
        metrics = summary["metrics"]
        rows.append(f"| {name} | {run} | {summary['questions']} | "
                    + " | ".join(_cell(metrics.get(c)) for c in COLUMNS) + " |")
    return "\n".join(rows)


def rewrite_readme(readme: Path, root: Path) -> bool:
    """Put the table between the markers; True when the README changed."""
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        raise ValueError(f"{readme} has no {START} … {END} markers")
    new = f"{head}{START}\n{table(root)}\n{END}{tail}"
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def readme_table(readme: Path) -> str:
    text = readme.read_text(encoding="utf-8")
    return text.partition(START)[2].partition(END)[0].strip()
