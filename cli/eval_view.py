"""How an evaluation is printed: the summary table, the verdict, the questions a chat changed."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from cli.common import (
    cell,
    err,
)


def print_chat_differences(frame) -> None:
    """The questions the chat answered worse than the same question asked alone."""
    worse = frame[frame["chat_consistency"] == 0]
    if worse.empty:
        err.print("[green]every question is answered in the chat as it is alone[/]")
        return
    table = Table("id", "question", "top entry in the chat", "alone",
                  title=f"answered worse in the chat than alone: {len(worse)} of {len(frame)}")
    for _, row in worse.iterrows():
        chat_top = (list(row["retrieved_ids"]) or ["(none)"])[0] if not row["declined"] else "(declined)"
        alone_top = row["alone_top"] or "(none)" if not row["alone_declined"] else "(declined)"
        table.add_row(str(row["id"]), str(row["question"])[:60], chat_top, alone_top)
    err.print(table)


def print_eval(summary: dict, metrics: list[str], comparisons, run_dir: Path, wrote: Path | None) -> None:
    from evals.provenance import header

    by_metric = {c.metric: c for c in comparisons}
    err.print(f"[dim]{header(summary)}[/]", highlight=False, soft_wrap=True)
    # mean and n over the whole run; baseline → paired over the questions both have (what the gate compares)
    table = Table("metric", "mean", "n", *(("paired: baseline → now", "Δ", "95% CI", "MDE", "")
                                          if comparisons else ()),
                  title=f"eval: {summary['split']} split, {summary['questions']} questions")
    for metric in dict.fromkeys([*metrics, *by_metric]):
        mean = summary["metrics"].get(metric)
        c = by_metric.get(metric)
        if mean is None and c is None:
            continue
        name = f"{metric} (Δ: saved)" if c is not None and c.lower_is_better else metric
        row = [name, "–" if mean is None else f"{mean:.3f}", str(summary["counts"].get(metric, 0))]
        if comparisons:
            row += ([f"{c.baseline:.3f} → {cell(c.current)}", signed(c.delta),
                     "–" if c.low != c.low else f"[{c.low:+.3f}, {c.high:+.3f}]", mde_cell(c), verdict_cell(c)]
                    if c else ["", "", "", "", ""])
        table.add_row(*row)
    err.print(table)
    if comparisons:
        err.print("[dim]MDE: the mean drop the gate sees 80% of the time at this n, from the paired differences' sd; "
                  "* identical runs: from the metric's own per-question sd (unpaired bound); † at the ceiling: "
                  "the share of questions that must drop to 0 (evals/gate.py)[/]", soft_wrap=True, highlight=False)
    failures = {k: v for k, v in summary["judge_failures"].items() if v}
    if failures:
        err.print("[yellow]judge scores missing (judge failed):[/] " + ", ".join(f"{k} {v}" for k, v in failures.items()))
    err.print(f"report: {run_dir / 'report.html'} and report.md  ({summary['seconds']:.1f} s)")
    if wrote:
        err.print(f"baseline written: {wrote}")


def signed(value: float) -> str:
    return "–" if value != value else f"{value:+.3f}"


def mde_cell(c) -> str:
    mark = {"unpaired": "*", "ceiling": "†"}.get(c.mde_method.split(" ")[0].rstrip(":"), "")
    return cell(c.mde) + mark


def verdict_cell(c) -> str:
    if c.regressed:
        return "[red]REGRESSED[/]" + (f" (missing in {c.missing})" if c.missing else "")
    if c.probable:
        return "[yellow]probable regression[/]"
    return "[green]better[/]" if c.improved else ""


def print_verdict(outcome, enforced: bool) -> None:
    """The run's last line: one verdict, whatever happened."""
    for note in outcome.notes:
        err.print(f"[dim]differs from the baseline: {note}[/]", highlight=False, soft_wrap=True, markup=True)
    for c in outcome.regressions:
        err.print(f"[bold red]regression:[/] {c.metric} {c.baseline:.3f} → {cell(c.current)} ({c.why})",
                  soft_wrap=True, highlight=False)
    for c in outcome.probable:
        err.print(f"[yellow]probable regression:[/] {c.metric} {c.baseline:.3f} → {cell(c.current)} ({c.why}; "
                  f"MDE {cell(c.mde)})", soft_wrap=True, highlight=False)
    line = outcome.line() + ("" if enforced or not outcome.failed else " (not enforced: --no-gate)")
    style = {"PASS": "bold green", "FAIL": "bold red"}.get(outcome.status, "bold")
    err.print(line, style=style, markup=False, highlight=False, soft_wrap=True)
