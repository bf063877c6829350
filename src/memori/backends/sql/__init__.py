"""Shared SQLAlchemy table definitions and helpers for the SQL backends."""
