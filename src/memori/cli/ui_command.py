"""``memori ui``: the local memory inspector in the browser (``docs/ui.md``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from memori.cli.common import open_memori
from memori.cli.errors import OK
from memori.cli.pipeline_commands import pipeline_report

CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "BUILDKITE", "GITLAB_CI")


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``ui`` subcommand through the parser's ``add`` helper."""
    p = add("ui", cmd_ui, "browse, correct and explain memories in a local web page")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to listen on (default 127.0.0.1; anything else exposes "
                        "the data to the network, the token being its only guard)")
    p.add_argument("--no-browser", dest="browser", action="store_false",
                   help="print the URL only")


def _can_open_browser() -> bool:
    """No browser under CI, nor on Linux without a display."""
    if any(os.environ.get(name) for name in CI_VARIABLES):
        return False
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def cmd_ui(args: argparse.Namespace) -> int:
    from memori.ui import UIServer

    with open_memori(args) as mem:
        server = UIServer(mem, host=args.host, port=args.port,
                          report=lambda: pipeline_report(mem.store, args))
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"memori ui: listening on {args.host}: reachable from the network",
                  file=sys.stderr)
        print(f"memori ui: {server.url}", flush=True)
        print("memori ui: the token in this URL is the only key; Ctrl-C stops", flush=True)
        if args.browser and _can_open_browser():
            import webbrowser

            webbrowser.open(server.url)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop_listening()
    return OK
