"""The Qdrant backend (qdrant-client: a server, or local mode in memory or a directory).

Modules, one concept each: ``store`` (the ``PlanStore`` and ``open_store``: its
runners and lifecycle), ``operations`` and ``search`` (the plans, written once for
both clients), ``calls`` (qdrant-client calls as plan steps), ``connection`` (which
client serves which call), ``schema`` (collections, indexes, versioned setup),
``filters`` (scope filters), ``payload`` (points), ``sparse`` (text vectors) and
``urls``. ``plugin`` registers the backend without importing qdrant-client.
"""
