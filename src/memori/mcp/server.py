"""The MCP server: the memory tools over stdio, or streamable HTTP on 127.0.0.1.

Built on the ``mcp`` SDK's low-level ``Server`` so the tools' JSON schemas are exactly
those of :mod:`memori.tools.spec` (shared with ``Memori.tools()``). A refused call is a
tool error the model reads (``isError``), never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from memori.core import MissingExtraError
from memori.core.redact import scrub
from memori.mcp.binding import Binding
from memori.tools import TOOLS, ToolError

try:
    from mcp import types
    from mcp.server import Server
except ImportError as e:  # pragma: no cover - depends on the installed extras
    raise MissingExtraError("mcp", "memori mcp (the MCP server)") from e

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8765

INSTRUCTIONS = (
    "Long-term memory of the user this server was started for. Recall before answering "
    "questions that may depend on what the user said before; remember durable facts, "
    "preferences, goals and events; update or delete memories the user corrects."
)


def build_server(mem: Any, binding: Binding) -> Server[Any]:
    """An MCP server whose tools run on ``mem`` as ``binding`` (entity fixed)."""
    from memori import __version__

    tools = [types.Tool(name=spec.name, description=spec.description,
                        input_schema=spec.parameters(binding.allowed))
             for spec in TOOLS.values()]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        try:
            result = await asyncio.to_thread(binding.call, mem, params.name, params.arguments)
        except ToolError as e:
            return _error(str(e))
        except Exception as e:  # the store failed: one line, no traceback, no secrets
            log.warning("memori mcp: tool %s failed: %s", params.name, type(e).__name__)
            return _error(f"{params.name} failed: {type(e).__name__}: {scrub(str(e))}")
        text = json.dumps(result, ensure_ascii=False)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=result)

    return Server("memori", version=__version__, instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)],
                                is_error=True)


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one client on this process's stdin and stdout until it disconnects."""
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def serve_http(server: Server[Any], port: int = DEFAULT_PORT) -> None:
    """Serve streamable HTTP at ``http://127.0.0.1:PORT/mcp`` (loopback only)."""
    import uvicorn

    app = server.streamable_http_app(host=HOST)
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()
