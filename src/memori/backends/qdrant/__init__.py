"""The Qdrant backend (qdrant-client: a server, or local mode in memory or a directory).

Modules, one concept each: ``store`` (the ``MemoryStore`` and ``open_store``),
``aio`` (its async twins), ``operations`` and ``search`` (the primitives, written
once as sans-I/O generators, see ``calls``), ``connection`` (which client serves
which call), ``schema`` (collections, indexes, versioned setup), ``filters``
(scope filters), ``payload`` (points), ``sparse`` (text vectors) and ``urls``.
``plugin`` registers the backend without importing qdrant-client.
"""
