"""The `workbench` command line: one module per command group, registered on one app.

Heavy libraries (DSPy, LanceDB, llama.cpp) are imported inside the commands that need them,
so `workbench --help` and `workbench config` answer at once.
"""

import importlib

from cli.common import app, ensure_index

__all__ = ["app", "ensure_index", "main"]

# each module registers its commands on `app`; this order is the order of `workbench --help`
COMMAND_MODULES = ("site", "chat", "evaluate", "optimize", "serve", "bench", "dataset")
for _module in COMMAND_MODULES:
    importlib.import_module(f"cli.{_module}")


def main() -> None:  # pragma: no cover - console entry point
    app()
