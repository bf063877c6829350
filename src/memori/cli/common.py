"""What the CLI commands share: opening memori from the arguments, scopes, errors."""

from __future__ import annotations

import argparse
from typing import Any

from memori.cli.errors import USAGE, CLIError
from memori.config import default_url
from memori.core import Scope
from memori.core.urls import redact_url


def url_of(args: argparse.Namespace) -> str:
    url: str = args.url or default_url()
    return url


def open_memori(args: argparse.Namespace, **options: Any) -> Any:
    """A Memori on ``--url`` (or MEMORI_URL / the default) with no background extraction."""
    from memori import Memori

    options.setdefault("extractor", None)
    return Memori(url_of(args), embedder=args.embedder, migrate=False, **options)


def scope_of(args: argparse.Namespace) -> Scope:
    try:
        return Scope(args.entity, getattr(args, "process", None))
    except ValueError as e:
        raise CLIError(str(e), USAGE) from e


def shown_url(args: argparse.Namespace) -> str:
    return redact_url(url_of(args))
