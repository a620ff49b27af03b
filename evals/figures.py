"""The docs' figures, from committed measurements: every figure shown is one a command wrote.

- the README's table, from the committed baselines (what `make eval` holds every change to);
- docs/evaluation.md's acceptance table, from `datasets/acceptance.json` (what `make accept`
  measured; `tests/test_acceptance.py` fails when today's pipeline measures otherwise).

`workbench figures` prints the README's table; `--write` (make docs) rewrites every generated
block between its markers, and a test fails when a block differs from what its source renders.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
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
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


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


def acceptance_table(root: Path) -> str:
    """`make accept`'s figures per language, hybrid retrieval (dense beside it for hit@k), with the goals."""
    from evals.acceptance import ACCEPTANCE_FILE, THRESHOLDS

    path = root / ACCEPTANCE_FILE
    kept = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if not kept.get("hybrid", {}).get("figures"):
        raise ValueError(f"{path} holds no hybrid figures: run `make accept` (it writes them)")
    hybrid, dense = kept["hybrid"]["figures"], kept.get("dense", {}).get("figures", {})
    languages = [lang for lang in ("en", "ko", "all") if lang in next(iter(hybrid.values()))]
    rows = [f"| figure ({kept['hybrid']['cases']} cases) | " + " | ".join(languages) + " | goal |",
            "|---|" + "---|" * (len(languages) + 1)]
    retrieval = ("hit@1", "hit@5")  # first, and beside their dense-only figures
    for figure in [*(f for f in retrieval if f in hybrid), *(f for f in hybrid if f not in retrieval)]:
        goal = THRESHOLDS.get(figure)
        label = f"{figure} (hybrid)" if figure in retrieval else figure
        rows.append(f"| {label} | " + " | ".join(_cell(hybrid[figure].get(lang)) for lang in languages)
                    + f" | {f'≥ {goal:.2f}' if goal is not None else ''} |")
        if figure in retrieval and figure in dense:
            rows.append(f"| {figure} (dense) | " + " | ".join(_cell(dense[figure].get(lang)) for lang in languages)
                        + " | |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Block:
    """A generated block of a page: between `<!-- NAME:start -->` and `<!-- NAME:end -->`."""

    page: str  # relative to the repository root
    name: str
    render: Callable[[Path], str]  # datasets/ → the block's text

    @property
    def markers(self) -> tuple[str, str]:
        return f"<!-- {self.name}:start -->", f"<!-- {self.name}:end -->"


BLOCKS = (Block("README.md", "figures", table), Block("docs/evaluation.md", "acceptance", acceptance_table))


def shown(block: Block, repo: Path) -> str:
    """What the page shows between the block's markers."""
    start, end = block.markers
    return (repo / block.page).read_text(encoding="utf-8").partition(start)[2].partition(end)[0].strip()


def write(block: Block, repo: Path) -> bool:
    """Put the rendered block between its markers; True when the page changed."""
    page = repo / block.page
    text = page.read_text(encoding="utf-8")
    start, end = block.markers
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    if not rest:
        raise ValueError(f"{page} has no {start} … {end} markers")
    new = f"{head}{start}\n{block.render(repo / 'datasets')}\n{end}{tail}"
    if new != text:
        page.write_text(new, encoding="utf-8")
    return new != text


def stale(repo: Path) -> list[str]:
    """The pages whose generated blocks differ from what their sources render."""
    return [f"{b.page} ({b.name})" for b in BLOCKS if shown(b, repo) != b.render(repo / "datasets").strip()]
