"""``memori mcp``: memory served over the Model Context Protocol (``pip install 'memori[mcp]'``).

The entity is bound when the server starts, never chosen by the model. Importing this
package does not import the ``mcp`` SDK; :mod:`memori.mcp.server` does.
"""

from __future__ import annotations

from memori.mcp.binding import ENV_ENTITY, Binding

__all__ = ["ENV_ENTITY", "Binding"]
