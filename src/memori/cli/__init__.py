"""The ``memori`` command line (console script and ``python -m memori``)."""

from memori.cli.app import main

__all__ = ["main"]
