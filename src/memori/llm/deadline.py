"""The LLM path's reads, bounded in time: a store that stops answering costs a call at
most ``read_timeout`` seconds, then the call goes on without memory.

A database server that hangs (stopped, overloaded, behind a network partition that
drops no connection) does not refuse anything: a driver waits on its socket, and
neither psycopg nor pymongo bounds that wait by default. Measured before this module,
with the server's processes stopped by SIGSTOP: a registered call on PostgreSQL waited
until the server came back (90 s and more), on MongoDB 44 s (its reads timing out one
after the other). So a call's reads run on a small pool of reader threads and the call
waits for them at most ``timeout`` seconds: past it, the call goes on without memory
(a read failure, as when the store refuses), and the reader is left to finish or fail
on its own. Once a read has overrun, the store is taken as not answering: calls skip
their reads at once, but for one call every ``timeout`` seconds that tries again (the
first read to end, that one or an overrun one, ends the outage). Natively async reads
are awaited as long and then cancelled, without waiting for the cancellation to end;
the threads they need run on the same readers, never on the application's executor.

A store whose reads cannot hang on a server (``SupportsLocalReads``: SQLite's file)
is read in the caller's thread, as before, without the hop to a reader (0.1-0.3 ms).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from memori.core.forks import reset_in_children

R = TypeVar("R")

READERS = 8
"""Reader threads: calls reading at once (more wait for one to be free, bounded alike)."""


class ReadTimeout(TimeoutError):
    """The store did not answer a call's reads within the bound."""


class BoundedReads:
    """Runs a call's reads on a reader thread and waits for them at most ``timeout``
    seconds; after a read overran, only one call per ``timeout`` seconds reads."""

    def __init__(self, timeout: float, readers: int = READERS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.readers = readers
        self._clock = clock
        self._pool: _Readers | None = None
        self._lock = threading.Lock()
        self._failing = False  # a read overran, none has ended since
        self._tried = 0.0  # when the last call read while failing
        reset_in_children(self, BoundedReads._forked)

    @property
    def failing(self) -> bool:
        """Whether the store is taken as not answering."""
        return self._failing

    def run(self, read: Callable[[], R]) -> R:
        """``read()`` on a reader; :class:`ReadTimeout` past the bound."""
        job = self._submit(read)
        try:
            result = job.future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            raise self._overran(job) from None
        self._answered()
        return result

    async def arun(self, read: Callable[[], R]) -> R:
        """:meth:`run` for the event loop (the loop never blocks)."""
        job = self._submit(read)
        wrapped = asyncio.wrap_future(job.future)
        done, _ = await asyncio.wait({wrapped}, timeout=self.timeout)
        if not done:
            raise self._overran(job)
        self._answered()
        return wrapped.result()

    async def abound(self, reads: Callable[[], Awaitable[R]]) -> R:
        """Awaits natively async ``reads()`` at most the bound; past it, cancels them
        without waiting for the cancellation (a driver may wait on the server for it)."""
        self._admit()
        task = asyncio.ensure_future(reads())
        done, _ = await asyncio.wait({task}, timeout=self.timeout)
        if not done:
            task.cancel()
            task.add_done_callback(_consume)
            self._failed()
            raise ReadTimeout(self._said("did not answer within"))
        self._answered()
        return task.result()

    async def thread(self, read: Callable[..., R], *args: Any) -> R:
        """``read(*args)`` on a reader, awaited without a bound of its own (inside
        :meth:`abound`)."""
        run = contextvars.copy_context().run
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(), run, read, *args)

    def close(self) -> None:
        """Stop the readers once their reads end (one still waiting on a store is not
        waited for)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def _forked(self) -> None:
        """In a forked child: none of the parent's reader threads are there (a read
        handed to them was never taken: every call waited out its bound), and the lock
        may have been held by one of them; readers of its own start on first use."""
        self._lock = threading.Lock()
        self._pool = None

    # the outage

    def _admit(self) -> None:
        """Raise :class:`ReadTimeout` while the store is not answering, but for one
        call every ``timeout`` seconds."""
        with self._lock:
            if not self._failing:
                return
            now = self._clock()
            if now - self._tried < self.timeout:
                raise ReadTimeout(self._said("has not answered a read for"))
            self._tried = now

    def _submit(self, read: Callable[[], R]) -> _Read[R]:
        self._admit()
        run = contextvars.copy_context().run  # the caller's spans and settings
        job = _Read(read, self._clock)
        job.future = self._executor().submit(run, job)
        return job

    def _overran(self, job: _Read[Any]) -> ReadTimeout:
        """Why a call's wait ended without its reads: the store did not answer (its read
        ran most of the bound), or every reader was busy (a burst of calls)."""
        started = job.started
        if job.future.cancel() or (
                started is not None and self._clock() - started < self.timeout / 2):
            return ReadTimeout(f"no reader was free in time ({self.timeout:g} s); this "
                               "call goes on without memory")
        self._failed()
        job.future.add_done_callback(self._ended)
        return ReadTimeout(self._said("did not answer within"))

    def _ended(self, future: concurrent.futures.Future[Any]) -> None:
        if not future.cancelled():  # a read that overran has ended: the store answers
            self._answered()

    def _failed(self) -> None:
        with self._lock:
            if not self._failing:
                self._failing, self._tried = True, self._clock()

    def _answered(self) -> None:
        with self._lock:
            self._failing = False

    def _said(self, what: str) -> str:
        return f"the store {what} {self.timeout:g} s; this call goes on without memory"

    def _executor(self) -> _Readers:
        with self._lock:
            if self._pool is None:
                self._pool = _Readers(self.readers)
            return self._pool


class _Read(Generic[R]):
    """One call's reads as a reader runs them, noting when it began."""

    def __init__(self, read: Callable[[], R], clock: Callable[[], float]) -> None:
        self._read, self._clock = read, clock
        self.started: float | None = None
        self.future: concurrent.futures.Future[R] = concurrent.futures.Future()

    def __call__(self) -> R:
        self.started = self._clock()
        return self._read()


class _Readers(concurrent.futures.Executor):
    """A few daemon threads taking reads in turn. Not a ``ThreadPoolExecutor``: the
    interpreter joins those at exit, and a reader waiting on a hung server would keep
    the application from exiting."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[
            tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None
        ] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any
               ) -> concurrent.futures.Future[R]:
        future: concurrent.futures.Future[R] = concurrent.futures.Future()
        with self._lock:
            if self._idle == 0 and len(self._threads) < self._size:
                thread = threading.Thread(target=self._serve, name="memori-read",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
        self._jobs.put((future, functools.partial(fn, *args, **kwargs)))
        return future

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
            if job is None:
                return
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as e:  # handed to the caller
                future.set_exception(e)

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


def _consume(task: asyncio.Future[Any]) -> None:
    """Retrieve a cancelled read's outcome, so asyncio does not log it as lost."""
    if not task.cancelled():
        task.exception()
