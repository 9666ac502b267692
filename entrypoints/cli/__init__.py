"""``chainwatch``, the operator's command line: ``main`` (the console script) in ``main``,
one module per command group, and what they share in ``common``."""

from entrypoints.cli.main import main

__all__ = ["main"]
