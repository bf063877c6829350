"""The write path: from a model call's ``create()`` to the stored memory.

Follow a turn through it:

1. ``recorder``: the LLM path (or ``Memori.record``) hands the call's turns to the
   :class:`TurnRecorder`, which appends them to the local ``journal`` first (so a
   turn survives SIGKILL once ``create()`` has returned), then embeds and writes
   them to the store from one background thread; the stored turns are the
   durable outbox (``extract_state = pending``).
2. ``runner`` / ``worker``: one background thread drains the outbox oldest first
   (``outbox_logic`` decides batching, retries and parking), runs the extractor and
   ``reconcile`` applies the candidates (merge, supersede). An extractor bound to an
   event loop (``AsyncExtractor``: an async model client) runs as a task on the
   application's loop instead (``async_worker``); that is the only hop.
3. ``inflight`` tracks, per entity, the turns this process recorded that are not yet
   stored and extracted, so the next call of that entity waits for them (briefly)
   and reads its own writes; ``gate`` lets foreground reads go first.
"""

from memori.pipeline.async_worker import AsyncOutboxWorker
from memori.pipeline.outbox_logic import AugmentationStats, OutboxPolicy
from memori.pipeline.reconcile import Reconciler
from memori.pipeline.runner import AugmentationRunner, FlushOnLoopError
from memori.pipeline.worker import OutboxWorker

__all__ = [
    "AsyncOutboxWorker",
    "AugmentationRunner",
    "AugmentationStats",
    "FlushOnLoopError",
    "OutboxPolicy",
    "OutboxWorker",
    "Reconciler",
]
