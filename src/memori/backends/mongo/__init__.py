"""The mongo backend."""
