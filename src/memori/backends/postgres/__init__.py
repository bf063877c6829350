"""The postgres backend."""
