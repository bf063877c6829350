"""``memori ui``: a local memory inspector in the browser (``docs/ui.md``).

Standard library only: ``http.server`` with a small router, pages rendered on the
server, every request checked against a random token. Not imported by ``import memori``.
"""

from memori.ui.server import UIServer

__all__ = ["UIServer"]
