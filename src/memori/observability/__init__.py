"""What memori tells operators: OpenTelemetry spans and metrics (optional) and its logs.

OpenTelemetry is off unless ``Memori(otel=True)`` or ``MEMORI_OTEL=1``; off, every hook
is the no-op :data:`NOOP` and ``opentelemetry`` is never imported. Message content
(queries, turns, memories, the injected block) goes into neither spans nor logs unless
the operator opts in (``MEMORI_OTEL_CAPTURE_CONTENT``, ``MEMORI_LOG_CONTENT``).
See ``docs/observability.md``.
"""

from __future__ import annotations

from memori.observability.logs import apply_log_settings, describe_error, logs_content
from memori.observability.observer import NOOP, NullSpan, Observer, observer_for

__all__ = [
    "NOOP",
    "NullSpan",
    "Observer",
    "apply_log_settings",
    "describe_error",
    "logs_content",
    "observer_for",
]
