"""Retrieval: the default hybrid retriever, rank fusion and offline token counting."""

from memori.retrieval.hybrid import HybridRetriever, select_within_budget
from memori.retrieval.tokens import count_tokens

__all__ = ["HybridRetriever", "count_tokens", "select_within_budget"]
