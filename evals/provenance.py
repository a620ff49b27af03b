"""What a run was made with: recorded in its summary and in a baseline, compared by the gate.

A number without its settings cannot be trusted: the same program scored on another
dataset, index, retrieval mode or top_k is another experiment. Every field here is
deterministic for the same inputs (no clock, no machine paths), so writing a baseline
again from an unchanged setup changes no byte.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from evals.dataset import Case, Dataset


def git_commit(root: Path | None = None) -> str | None:
    """The checkout's commit, with "+dirty" when files differ from it (None outside a git checkout).
    A run records it; a baseline does not (it would change with every commit)."""
    import subprocess

    cwd = root or Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty else "")


def shown_path(path: Path | str) -> str:
    """Relative to the working directory when under it, so a record names no one machine's folders."""
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


def file_sha256(path: Path | str) -> str | None:
    path = Path(path)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def index_sha256(chunks: Iterable) -> str:
    """The index's content: every chunk id with its content hash, in id order."""
    lines = sorted(f"{c.id}\x1f{c.content_hash}" for c in chunks)
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def record(settings, bench, dataset: Dataset, top_k: int | None) -> dict:
    """The settings of a run that decide its numbers."""
    chunks = bench.store.chunks()
    program_top_k = getattr(getattr(bench.program, "params", None), "top_k", None)
    return {
        "dataset": shown_path(dataset.path),
        "dataset_sha256": dataset.sha256,
        "dataset_cases": len(dataset.cases),
        "program": bench.program_source,
        "program_sha256": file_sha256(bench.program_source),
        "lm": settings.lm_provider,
        "judge": settings.judge_lm,
        "embedder": getattr(bench.embedder, "name", None),
        "vector_store": settings.store_provider,
        "retrieval_mode": getattr(bench, "retrieval_mode", None) or settings.retrieval_mode,
        # what retrieval used: --top-k when given (0 turns retrieval off), else the program's own
        "top_k": top_k if top_k is not None else program_top_k,
        "top_k_from": "--top-k" if top_k is not None else "program",
        "program_fingerprint": getattr(bench, "program_fingerprint", None),
        "index_fingerprint": getattr(bench, "index_fingerprint", None),
        "git_commit": git_commit(),
        "index_chunks": len(chunks),
        "index_sha256": index_sha256(chunks),
    }


def with_text_fingerprints(frame: pd.DataFrame, cases: Iterable[Case]) -> pd.DataFrame:
    """Add each question's history hash: with the question text, what the gate pairs on."""
    hashes = {case.id: case.history_sha256 for case in cases}
    return frame.assign(history_sha256=frame["id"].map(hashes))


def header(summary: dict) -> str:
    """One line of the settings that matter, for the report and the terminal."""
    top_k = summary.get("top_k")
    return (f"split={summary.get('split')} dataset={summary.get('dataset')} program={summary.get('program')} "
            f"lm={summary.get('lm')} retrieval={summary.get('retrieval_mode')} "
            f"top_k={'?' if top_k is None else top_k}"
            + (" (off)" if top_k == 0 else "") + f" embedder={summary.get('embedder')}"
            + f" program#={summary.get('program_fingerprint')} index#={summary.get('index_fingerprint')}"
            + f" commit={summary.get('git_commit')}")
