"""Augmentation: turning recorded conversations into durable, reconciled memories."""

from memori.augmentation.llm_extractor import ExtractionError, LLMExtractor
from memori.augmentation.offline import OfflineExtractor
from memori.augmentation.reconcile import Reconciler
from memori.augmentation.worker import AugmentationStats, OutboxWorker

__all__ = [
    "AugmentationStats",
    "ExtractionError",
    "LLMExtractor",
    "OfflineExtractor",
    "OutboxWorker",
    "Reconciler",
]
