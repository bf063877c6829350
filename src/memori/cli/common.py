"""What the CLI commands share: opening memori from the arguments, scopes, errors."""

from __future__ import annotations

import argparse
import os
from typing import Any

from memori.cli.errors import USAGE, CLIError
from memori.config import ENV_URL, default_url
from memori.core import Scope
from memori.core.redact import redact_url, scrub, secrets_in


def url_of(args: argparse.Namespace) -> str:
    """The database URL: the positional ``target``, else ``--url``, else the default."""
    url: str = getattr(args, "target", None) or getattr(args, "url", None) or default_url()
    return url


def open_memori(args: argparse.Namespace, **options: Any) -> Any:
    """A Memori on ``--url`` (or MEMORI_URL / the default) with no background extraction
    nor background sweep (``memori sweep`` sweeps)."""
    from memori import Memori

    options.setdefault("extractor", None)
    options.setdefault("sweep_every", None)
    return Memori(url_of(args), embedder=args.embedder, migrate=False, **options)


def scope_of(args: argparse.Namespace) -> Scope:
    try:
        return Scope(args.entity, getattr(args, "process", None))
    except ValueError as e:
        raise CLIError(str(e), USAGE) from e


def shown_url(args: argparse.Namespace) -> str:
    """The database URL as the CLI prints it: credentials masked."""
    return redact_url(url_of(args))


def shown_text(text: str, args: argparse.Namespace) -> str:
    """``text`` safe to print: credentials, and any secret of the database URL, masked."""
    given = getattr(args, "target", None) or getattr(args, "url", None) or os.environ.get(ENV_URL)
    return scrub(text, secrets_in(given) if given else ())
