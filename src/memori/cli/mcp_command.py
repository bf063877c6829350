"""mcp: serve one entity's memory to an assistant over the Model Context Protocol."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from memori.cli.common import open_memori
from memori.cli.errors import OK, USAGE, CLIError


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``mcp`` subcommand through the parser's ``add`` helper."""
    p = add("mcp", cmd_mcp, "serve one entity's memory over MCP (stdio; --http for HTTP)")
    p.add_argument("--entity", help="the entity served (default: $MEMORI_MCP_ENTITY); "
                                    "the model can never choose another")
    p.add_argument("--persona", help="the persona the tools act as (default: none)")
    p.add_argument("--allow-persona", metavar="A,B",
                   help="personas a tool call may pick with its persona argument")
    p.add_argument("--session", help="session id the tools write under (default: a new one)")
    p.add_argument("--http", action="store_true",
                   help="serve streamable HTTP on 127.0.0.1 instead of stdio")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default 8765)")


def cmd_mcp(args: argparse.Namespace) -> int:
    from memori.mcp import Binding

    try:
        binding = Binding.from_options(args.entity, args.persona, args.allow_persona,
                                       args.session)
    except ValueError as e:
        raise CLIError(str(e), USAGE) from e
    if args.port is not None and not args.http:
        raise CLIError("--port needs --http", USAGE)
    if args.port is not None and not 1 <= args.port <= 65535:
        raise CLIError(f"--port must be from 1 to 65535, got {args.port}", USAGE)
    from memori.mcp import server as mcp_server

    with open_memori(args) as mem:
        server = mcp_server.build_server(mem, binding)
        serve: Any = (mcp_server.serve_http(server, args.port or mcp_server.DEFAULT_PORT)
                      if args.http else mcp_server.serve_stdio(server))
        asyncio.run(serve)
    return OK
