"""Loading an embedder's model ahead of its first use, on a thread of its own.

The local model takes a few hundred milliseconds to load (onnxruntime builds its
session outside the GIL), and a process's first model call would wait for it.
Registering an LLM client says calls are coming: the load starts then, beside the
application, which goes on at once; a call that comes while it runs waits only for
the rest of it (the embedder's own lock). The thread is not a daemon: a script that
registers and exits at once waits for the load to end rather than leaving
onnxruntime half-built while the interpreter shuts down. A load that fails is only
logged here: the first use meets the error again and reports it as it always did.
"""

from __future__ import annotations

import logging
import threading

from memori.core import Embedder, SupportsLoad

log = logging.getLogger(__name__)


def preload(embedder: Embedder | None) -> threading.Thread | None:
    """Start ``embedder.load()`` on a new thread (None: nothing to load)."""
    if embedder is None or not isinstance(embedder, SupportsLoad):
        return None
    thread = threading.Thread(target=_load, args=(embedder,), name="memori-embedder-load")
    thread.start()
    return thread


def _load(embedder: SupportsLoad) -> None:
    try:
        embedder.load()
    except Exception as e:  # the first use raises it, where the caller handles it
        log.debug("memori: loading the embedder ahead of use failed (%s: %s)",
                  type(e).__name__, e)
