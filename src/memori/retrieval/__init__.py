"""Retrieval: the default hybrid retriever, rank fusion, query processing, token counting."""

from memori.retrieval.budget import select_within_budget
from memori.retrieval.fusion import reciprocal_rank_fusion
from memori.retrieval.hybrid import HybridRetriever, Reranker, default_weights
from memori.retrieval.plan import SIGNALS
from memori.retrieval.query import text_query
from memori.retrieval.relevance import ABSOLUTE_SIGNALS, MIN_RELEVANCE
from memori.retrieval.tokens import count_tokens

__all__ = [
    "ABSOLUTE_SIGNALS",
    "MIN_RELEVANCE",
    "SIGNALS",
    "HybridRetriever",
    "Reranker",
    "count_tokens",
    "default_weights",
    "reciprocal_rank_fusion",
    "select_within_budget",
    "text_query",
]
