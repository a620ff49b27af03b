"""`workbench`: the one command line of the project (the commands live in `cli/`)."""

import sys

from cli import app, ensure_index, main

__all__ = ["app", "ensure_index", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
