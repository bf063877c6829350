"""memori.retrieval."""
