"""``mem.llm``: registers LLM clients (openai, Anthropic, litellm) so that their calls read
and write memory."""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, TypeVar

from memori.core import ClientAlreadyRegisteredError
from memori.llm.engine import MemoryEngine
from memori.llm.stats import LLMStats

if TYPE_CHECKING:
    from memori.facade import Memori
    from memori.llm.clients import Patch

C = TypeVar("C")
log = logging.getLogger(__name__)
OWNER_ATTR = "_memori_registry"


class LLMRegistry:
    """The LLM clients registered with one ``Memori`` instance.

    ``register(client)`` patches that client instance (``OpenAI``, ``AsyncOpenAI``
    and the Azure variants): ``chat.completions.create`` / ``parse`` and
    ``responses.create`` / ``parse``, streamed or not, directly or through
    ``with_raw_response``; ``Anthropic`` / ``AsyncAnthropic``: ``messages.create``,
    ``parse`` and ``stream``; the ``litellm`` module: ``completion`` / ``acompletion``.
    Registering twice is a no-op; a client registered with another ``Memori`` raises
    ``ClientAlreadyRegisteredError``. ``unregister`` restores the client. The first
    registration starts loading the embedder's model on a thread of its own
    (``memori.embedders.preload``).
    """

    def __init__(self, mem: Memori, *, history_turns: int = 40, history_ttl: float = 5.0) -> None:
        self._mem = mem
        self.engine = MemoryEngine(mem, history_turns=history_turns, history_ttl=history_ttl)
        self._lock = threading.RLock()
        self._clients: dict[int, tuple[weakref.ref[Any], Patch]] = {}
        self._preloaded = False

    def register(self, client: C) -> C:
        """Make the client's calls remember; returns the client."""
        from memori.llm.clients import patch_factory

        make_patch = patch_factory(client)  # openai, Anthropic or litellm; else TypeError
        with self._lock:
            owner = getattr(client, OWNER_ATTR, None)
            if owner is self and self.is_registered(client):
                return client
            if isinstance(owner, LLMRegistry) and owner is not self and owner.is_registered(client):
                raise ClientAlreadyRegisteredError(
                    "this client is already registered with another Memori instance; "
                    "call other_mem.llm.unregister(client) first, or use a second client"
                )
            patch = make_patch(client, self.engine, self._register_copy)
            patch.install()
            key = id(client)
            ref: weakref.ref[Any] = weakref.ref(client, functools.partial(self._dropped, key))
            self._clients[key] = (ref, patch)
            setattr(client, OWNER_ATTR, self)
            self._preload()
        return client

    def _preload(self) -> None:
        """Calls are coming: the embedder's model loads now, beside the application
        (once; see ``memori.embedders.preload``)."""
        if self._preloaded:
            return
        self._preloaded = True
        from memori.embedders.preload import preload

        preload(self._mem.embedder)

    def _register_copy(self, client: Any) -> None:
        """A client made by ``copy()`` / ``with_options()`` of a registered one joins it."""
        try:
            if is_copy_registrable(client):
                self.register(client)
        except Exception as e:  # the copy still works, only without memory
            log.warning("memori: could not register a copied client (%s)", type(e).__name__)

    def _dropped(self, key: int, _ref: object = None) -> None:
        with self._lock:
            self._clients.pop(key, None)

    def unregister(self, client: Any) -> bool:
        """Restore the client; False if it was not registered here."""
        with self._lock:
            entry = self._clients.get(id(client))
            if entry is None or entry[0]() is not client:
                return False
            del self._clients[id(client)]
            entry[1].remove()
            if client.__dict__.get(OWNER_ATTR) is self:
                delattr(client, OWNER_ATTR)
        return True

    def unregister_all(self) -> None:
        """Restore every registered client (``mem.close()`` does this)."""
        with self._lock:
            clients = [ref() for ref, _ in self._clients.values()]
        for client in clients:
            if client is not None:
                self.unregister(client)

    def is_registered(self, client: Any) -> bool:
        with self._lock:
            entry = self._clients.get(id(client))
            return entry is not None and entry[0]() is client

    @property
    def clients(self) -> list[Any]:
        """The registered clients still alive."""
        with self._lock:
            return [c for c in (ref() for ref, _ in self._clients.values()) if c is not None]

    @property
    def stats(self) -> LLMStats:
        """Counters of intercepted calls, injections, recorded turns and memory failures."""
        return self.engine.stats()

    def forget_entity(self, entity_id: str) -> None:
        """Drop the entity's cached session history (``mem.forget`` calls this)."""
        self.engine.sessions.drop_entity(entity_id)
        self.engine.pinned.drop_entity(entity_id)

    def memories_changed(self, entity_id: str) -> None:
        """Drop the entity's cached pinned memories (a memory was pinned, edited or deleted)."""
        self.engine.pinned.drop_entity(entity_id)


def is_copy_registrable(client: Any) -> bool:
    from memori.llm.clients import is_supported

    return is_supported(client) and getattr(client, OWNER_ATTR, None) is None
