"""optimize: tune the program on a dataset and save it."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import (
    IndexOption,
    app,
    console,
    ensure_index,
    err,
    fail,
    settings_from_env,
)


@app.command()
def optimize(
    optimizer: str = typer.Option("random-search", "--optimizer",
                                  help="random-search (parameters), bootstrap, mipro or gepa (prompts)."),
    stages: str = typer.Option("rewrite,plan,generate", "--stages", help="Comma-separated stages to tune."),
    budget: int = typer.Option(12, "--budget", min=1, max=200, help="Candidates (random search) or demos."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the search."),
    teacher: str | None = typer.Option(None, "--teacher", help="A stronger LM (DSPy model string) for demos."),
    out: Path | None = typer.Option(None, "--out", help="Where the optimized program goes (default: with --index, "
                                       "INDEX/program.json, bound to that index and served with it; else the "
                                       "served program in a checkout, .data/program.json when installed)."),
    index: Path | None = IndexOption,
    dataset: Path = typer.Option(Path("datasets/questions.jsonl"), "--dataset", help="Question dataset (JSONL)."),
    program: str = typer.Option("none", "--program",
                                help="Start from this saved program JSON (default 'none': the unoptimized one)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Bypass the on-disk LM, score and embedding caches."),
    glossary: Path | None = typer.Option(None, "--glossary", help="Glossary entries you reviewed (YAML from "
                                         "`workbench glossary draft`): offered to the search, served if dev gains."),
) -> None:
    """Compile the program on the train split, select on dev, save it for every entry point."""
    from evals.optimize import OPTIMIZERS, STAGES

    chosen_stages = [s.strip() for s in stages.split(",") if s.strip()]
    if optimizer not in OPTIMIZERS:
        fail(f"--optimizer must be one of {', '.join(OPTIMIZERS)}", 2)
    if not chosen_stages or set(chosen_stages) - set(STAGES):
        fail(f"--stages takes a comma-separated subset of {', '.join(STAGES)}", 2)
    settings = settings_from_env(index_dir=index, lm_cache=False if no_cache else None)
    if glossary is not None and (optimizer != "random-search" or not {"plan", "rewrite"} & set(chosen_stages)):
        fail("--glossary is offered by the random search to the rewrite and plan stages: use "
             "--optimizer random-search with --stages including rewrite or plan", 2)
    additions = [read_glossary(glossary)] if glossary is not None else []
    from evals.dataset import DatasetError, dataset_sha256, load_dataset
    from evals.optimize import optimize as run_optimize
    from evals.optimize_report import write_report
    from pipeline.factory import ProgramFileError, build_workbench, resolve_program
    from pipeline.program import LMUnavailableError, save_program
    from pipeline.providers.base import ProviderError

    try:
        resolve_program(settings, program)
        ensure_index(settings)
        bench = build_workbench(settings, program_path=program)
        err.print(f"[dim]starting from: {bench.program_source} · lm: {settings.lm_provider}[/]", highlight=False)
        data = load_dataset(dataset, chunk_ids=[c.id for c in bench.store.chunks()])
        if data.splits_note():
            err.print(data.splits_note(), highlight=False)
        for name in ("train", "dev"):
            if not data.split(name):
                fail(f"{dataset} has no {name} questions: the search tunes on train and selects on dev "
                     "(leave `split` out of the cases to have them assigned)", 2)
        teacher_lm = None
        if teacher:
            import dspy

            teacher_lm = dspy.LM(teacher, temperature=0.0)
        with err.status("optimizing…") as status:
            result = run_optimize(
                bench, data.split("train"), data.split("dev"), data.split("test"), optimizer=optimizer,
                stages=chosen_stages, budget=budget, seed=seed, concurrency=settings.eval_concurrency,
                teacher_lm=teacher_lm, progress=lambda message: status.update(message),
                cache_dir=None if no_cache else Path(settings.cache_dir), pack_additions=additions,
            )
        result.splits = data.splits_note()
    except (DatasetError, ProviderError, LMUnavailableError, ProgramFileError, ValueError) as exc:
        fail(str(exc))
    binding = None
    if index is not None:
        # tuned on this site's questions: bound to its index (and dataset), and served with it by default
        from pipeline.factory import INDEX_PROGRAM

        binding = {"index_fingerprint": bench.index_fingerprint, "dataset_sha256": dataset_sha256(data.cases),
                   "dataset": str(dataset)}
        out = out or Path(index) / INDEX_PROGRAM
    if out is None:
        from pipeline.settings import default_optimize_out

        out = default_optimize_out()
    save_program(bench.program, out, binding)
    report_path = write_report(result, out.with_name("optimize-report.md"), out)
    before, after = result.before_dev.summary()["score"], result.after_dev.summary()["score"]
    line = f"dev score {before:.3f} → {after:.3f}"
    if result.before_test is not None and result.after_test is not None:
        line += (f"; held-out test {result.before_test.summary()['score']:.3f} → "
                 f"{result.after_test.summary()['score']:.3f}")
    console.print(f"{line}; chosen: {result.chosen}; {result.seconds:.0f} s")
    if result.declined:
        console.print(result.declined, highlight=False, soft_wrap=True)
    console.print(f"saved {out} and {report_path}")


def read_glossary(path: Path) -> dict:
    """A reviewed glossary file as pack overrides ({"ko": {"glossary": {...}}, ...}), or a clear error."""
    import yaml

    from pipeline.lang import LanguagePackError, load_knowledge
    from pipeline.safe_yaml import load_yaml

    try:
        data = load_yaml(path.read_text(encoding="utf-8"), aliases=False) or {}
    except OSError as exc:
        fail(f"--glossary {path}: {exc.strerror or exc}")
    except yaml.YAMLError as exc:  # syntax, or an anchor the file does not need
        fail(f"--glossary {path}: not usable YAML ({str(exc).splitlines()[0]})")
    if not isinstance(data, dict) or any(not isinstance(v, dict) or set(v) - {"glossary"} for v in data.values()):
        fail(f"--glossary {path}: expected {{language: {{glossary: {{word: gloss}}}}}} as `workbench glossary draft` "
             "writes it")
    try:
        load_knowledge(data)  # every entry validated as the packs' own are
    except (LanguagePackError, ValueError) as exc:
        fail(f"--glossary {path}: {exc}")
    return data

