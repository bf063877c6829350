"""Dependencies' telemetry off before they load: nothing leaves the machine unless configured.

memori talks only to what the user configured: the store and, through the user's own
client, the model endpoint. A dependency of the default path must not phone home:

- onnxruntime (the local embedder) queues a usage event (device id, OS, interpreter
  path) in ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/`` when it loads and
  resolves ``mobile.events.data.microsoft.com`` a few seconds later to send it. Its
  native code reads ``ORT_DISABLE_TELEMETRY`` when the library loads, so the switch
  must be in the environment before ``import onnxruntime``: ``memori/__init__.py``
  imports this module before anything else, and the local embedder calls
  :func:`disable_dependency_telemetry` again right before it imports onnxruntime.

No other dependency of the default path (tokenizers, numpy, SQLAlchemy, sqlite-vec, the
openai client) sends anything of its own; huggingface_hub is not loaded. The switches
are set with "setdefault" semantics: a value the user set explicitly is kept (an empty
value counts as unset, since it would leave the switch off). This module imports
nothing but the standard library and never loads onnxruntime.
"""

from __future__ import annotations

import os
import sys

#: Environment switches memori sets (unless the user set them) before its dependencies load.
SWITCHES: dict[str, str] = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime: no usage event, no store, no upload
}


def disable_dependency_telemetry() -> None:
    """Set every switch of :data:`SWITCHES` the user left unset; idempotent and cheap.

    If onnxruntime was already loaded (by the app, before memori), its first event is
    already queued: it is also told to stop emitting events, unless the user set
    ``ORT_DISABLE_TELEMETRY`` to something other than ``1``.
    """
    for name, value in SWITCHES.items():
        if not os.environ.get(name):
            os.environ[name] = value
    ort = sys.modules.get("onnxruntime")
    if ort is not None and os.environ.get("ORT_DISABLE_TELEMETRY") == "1":
        disable = getattr(ort, "disable_telemetry_events", None)
        if callable(disable):
            disable()


disable_dependency_telemetry()
