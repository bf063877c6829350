"""memori.embedders."""
