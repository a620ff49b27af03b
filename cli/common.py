"""What every command shares: the app, the consoles, failing with one line, settings, the index."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

app = typer.Typer(
    help="Evaluation-first RAG workbench: the 'chat with me' backend of a portfolio site.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

IndexOption = typer.Option(None, "--index", help="Index folder (default: RAG_INDEX_DIR or .data/index).")


def fail(message: str, code: int = 1) -> None:
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def check_index_writable(settings) -> None:
    """Fail before minutes of embedding when the index folder cannot be written. Tried, not asked
    (os.access): root passes every permission check, but not a read-only mount or a file where a
    folder should be."""
    import tempfile

    if settings.store_provider == "pinecone":
        return
    index_dir = Path(settings.index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=index_dir):
        pass


def fail_os(exc: OSError, settings) -> None:
    """A failed read or write as one line saying where, and what to do when it is the index."""
    index_dir = Path(settings.index_dir)
    where = Path(exc.filename) if exc.filename else index_dir
    reason = exc.strerror or str(exc)
    if where == index_dir or index_dir in where.parents:
        detail = "" if where == index_dir else f" ({where})"
        fail(f"cannot write the index at {index_dir}: {reason}{detail}: pass another --index "
             "(or RAG_INDEX_DIR), or make that folder writable")
    fail(f"{where}: {reason}")


def settings_from_env(**overrides):
    from pydantic import ValidationError

    from pipeline.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"invalid setting {'.'.join(map(str, first['loc']))}: {first['msg']}")
    return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})



def cell(value) -> str:
    if isinstance(value, float):
        return "-" if value != value else (f"{value:.0f}" if value.is_integer() and value > 1 else f"{value:.3f}")
    return str(value)



BASELINE = Path("datasets/baseline.json")
DEMO_DATASET = Path("datasets/questions.jsonl")
CONVERSATION_BASELINE = Path("datasets/baseline-conversation.json")


def ensure_index(settings) -> None:
    """Ingest the configured corpus when the index does not exist yet (fresh clones), or was
    written by an older version of the workbench (it would be refused: every request a 503)."""
    from pipeline.factory import make_embedder, make_store, save_index_persona
    from pipeline.ingest import ingest as run_ingest
    from pipeline.persona import load_persona
    from pipeline.text import KEYWORDS_VERSION

    store = make_store(settings)
    if store.embedder_name() is None:
        err.print(f"[dim]no index at {settings.index_dir}: ingesting {settings.corpus_dir} first[/]")
    elif store.keywords_version() != KEYWORDS_VERSION and Path(settings.corpus_dir).is_dir():
        err.print(f"[dim]the index at {settings.index_dir} was written by an older version: "
                  f"ingesting {settings.corpus_dir} again (the old one serves until the new one is complete)[/]")
    else:
        return
    load_persona(Path(settings.corpus_dir))  # a broken persona.yaml fails before the embedding
    check_index_writable(settings)
    run_ingest(Path(settings.corpus_dir), store, make_embedder(settings))
    save_index_persona(settings, Path(settings.corpus_dir))


def index_chunks(settings) -> list:
    """An index's chunks, read from the store alone (no embedder or LM is loaded)."""
    from pipeline.factory import make_store

    store = make_store(settings)
    return store.chunks() if store.embedder_name() is not None else []


def chunks_or_fail(settings) -> list:
    """The index's chunks, or one line saying there is no index and what to run."""
    from pipeline.providers.base import ProviderError

    try:
        found = index_chunks(settings)
    except ProviderError as exc:
        fail(str(exc))
    if not found:
        fail(f"no index at {settings.index_dir}: run `workbench ingest` first (or pass --index)")
    return found

