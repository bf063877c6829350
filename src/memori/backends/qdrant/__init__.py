"""The qdrant backend."""
