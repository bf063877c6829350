"""memori: long-term memory for LLM applications, stored in the database you already run."""
