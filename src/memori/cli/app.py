"""The ``memori`` command: argument parsing and dispatch."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Callable, Sequence

from memori import __version__
from memori.cli import (
    admin_commands,
    chat_command,
    data_commands,
    doctor_command,
    mcp_command,
    memories_commands,
    pipeline_commands,
    transfer_commands,
    ui_command,
)
from memori.cli.common import shown_text
from memori.cli.errors import FAILURE, NOT_FOUND, UNAVAILABLE, USAGE, CLIError
from memori.core import (
    BackendNotFoundError,
    ConfigurationError,
    InvalidIdError,
    MemoriError,
    MissingExtraError,
    NotFoundError,
    StoreUnavailableError,
)
from memori.core.redact import RedactingFilter

Command = Callable[[argparse.Namespace], int]


COMMON_DEFAULTS = {"url": None, "embedder": "default", "json": False}
"""Options accepted before and after a subcommand (their defaults are set once, after
parsing, so a subcommand's default never hides a value given before it)."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=argparse.SUPPRESS,
                   help="database URL (default: $MEMORI_URL, else the local SQLite file)")
    p.add_argument("--embedder", default=argparse.SUPPRESS,
                   help="embedder name: default (local model), hash, none, openai:<model>")
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="machine-readable JSON output")


def _scope(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--entity", required=required, help="entity (user/tenant) id")
    p.add_argument("--persona", "--process", dest="process", help="persona (process) id")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memori", description="Long-term memory for LLM apps, in your own database.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    parser.add_argument("--version", action="version", version=f"memori {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Command, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _common(p)
        p.set_defaults(fn=fn)
        return p

    add("backends", admin_commands.cmd_backends,
        "backends installed, and those an extra would bring, with their URL schemes")
    p = add("doctor", doctor_command.cmd_doctor,
            "check connectivity, schema revision, extensions and the embedder")
    p.add_argument("target", nargs="?", help="database URL (same as --url)")
    p = add("migrate", admin_commands.cmd_migrate, "upgrade a database to the current schema")
    p.add_argument("target", nargs="?", help="database URL (same as --url)")
    p = add("remember", data_commands.cmd_remember, "store a memory")
    _scope(p)
    p.add_argument("text")
    p.add_argument("--kind", default="note")
    p.add_argument("--shared", action="store_true", help="visible to every persona")
    p.add_argument("--pinned", action="store_true", help="injected first on every call")
    p.add_argument("--ttl", type=float, help="seconds until it expires")
    p = add("recall", data_commands.cmd_recall, "search memories (exit 3 when nothing matches)")
    _scope(p)
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--history", action="store_true", help="include superseded memories")
    p = add("list", data_commands.cmd_list, "list the memories a scope sees")
    _scope(p)
    p.add_argument("--limit", type=int)
    p.add_argument("--history", action="store_true", help="include superseded memories")
    p = add("forget", data_commands.cmd_forget,
            "erase an entity (GDPR), or one persona, session or memory of it")
    p.add_argument("--entity", required=True)
    p.add_argument("--persona", "--process", dest="process",
                   help="only this persona's turns and memories")
    p.add_argument("--session", help="only this session's turns and the memories from them")
    p.add_argument("--memory", help="only this memory")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = add("stats", data_commands.cmd_stats, "counts across all entities (admin)")
    p.add_argument("target", nargs="?", help="database URL (same as --url)")
    p = add("purge", admin_commands.cmd_purge,
            "reclaim the space deleted data still holds on disk (VACUUM)")
    p.add_argument("target", nargs="?", help="database URL (same as --url)")
    p.add_argument("--full", action="store_true", help="PostgreSQL: VACUUM FULL (locks tables)")
    p = add("sweep", admin_commands.cmd_sweep,
            "delete the expired memories of every entity now (admin)")
    p.add_argument("target", nargs="?", help="database URL (same as --url)")
    p = add("retry", pipeline_commands.cmd_retry,
            "queue parked and set-aside turns again and process them now")
    p.add_argument("target", nargs="?", help="database URL (same as --url)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait (default 60)")
    p.add_argument("--no-extract", dest="extract", action="store_false",
                   help="only queue them; the application extracts them when it runs")
    p = add("export", transfer_commands.cmd_export, "write records as JSONL to stdout")
    p.add_argument("--entity", help="only this entity (default: all, an admin export)")
    p.add_argument("--no-turns", action="store_true", help="memories only")
    p = add("import", transfer_commands.cmd_import, "read JSONL records (from export)")
    p.add_argument("file", nargs="?", default="-", help="JSONL file (default: stdin)")
    p = add("chat", chat_command.cmd_chat,
            "chat with memory via OPENAI_BASE_URL / OPENAI_API_KEY")
    _scope(p)
    p.add_argument("--model", default="gpt-4o-mini")
    p.add_argument("--session", help="continue this session id")
    mcp_command.register(add)
    memories_commands.register(sub, _common, _scope)
    ui_command.register(add)
    return parser


def _log_to_stderr() -> None:
    """``--verbose``: log records on stderr, credentials masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name, default in COMMON_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.verbose:
        _log_to_stderr()

    def fail(error: BaseException, code: int, text: str | None = None) -> int:
        print(f"memori: {shown_text(text or str(error), args)}", file=sys.stderr)
        return code

    try:
        code: int = args.fn(args)
        return code
    except CLIError as e:
        return fail(e, e.code)
    except (BackendNotFoundError, MissingExtraError) as e:
        return fail(e, NOT_FOUND if isinstance(e, BackendNotFoundError) else USAGE)
    except NotFoundError as e:
        return fail(e, NOT_FOUND)
    except StoreUnavailableError as e:
        return fail(e, UNAVAILABLE)
    except (InvalidIdError, ConfigurationError) as e:
        return fail(e, USAGE)
    except MemoriError as e:
        return fail(e, FAILURE)
    except ValueError as e:
        return fail(e, USAGE)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as e:
        return fail(e, USAGE, f"cannot open {e.filename}: {e.strerror}")
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return FAILURE
    except Exception as e:  # a driver error memori did not translate: one redacted line
        if args.verbose:
            print(shown_text("".join(traceback.format_exception(e)), args), file=sys.stderr)
        return fail(e, FAILURE, f"{type(e).__name__}: {e}")
