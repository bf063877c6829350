"""Augmentation: turning recorded conversations into durable, reconciled memories."""

from memori.augmentation.async_worker import AsyncExtractor, AsyncOutboxWorker
from memori.augmentation.llm_extractor import AsyncLLMExtractor, ExtractionError, LLMExtractor
from memori.augmentation.offline import OfflineExtractor
from memori.augmentation.outbox_logic import AugmentationStats, OutboxPolicy
from memori.augmentation.reconcile import Reconciler
from memori.augmentation.runner import AugmentationRunner, FlushOnLoopError
from memori.augmentation.worker import OutboxWorker

__all__ = [
    "AsyncExtractor",
    "AsyncLLMExtractor",
    "AsyncOutboxWorker",
    "AugmentationRunner",
    "AugmentationStats",
    "ExtractionError",
    "FlushOnLoopError",
    "LLMExtractor",
    "OfflineExtractor",
    "OutboxPolicy",
    "OutboxWorker",
    "Reconciler",
]
