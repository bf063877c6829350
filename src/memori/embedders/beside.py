"""Running a model beside the caller's thread, for as long as the model holds no GIL.

onnxruntime releases the GIL while a session runs, but a Python thread needs the
GIL to start and to finish, and a thread asking for it while another runs Python
waits up to the interpreter's switch interval (5 ms): handed to a pool, a 2 ms
query embedding beside the text searches took longer than both in a row. Here the
caller prepares the inputs, hands only ``session.run`` to a worker thread and waits
until the worker is inside it (the GIL free the whole time), then goes on with its
own work; the worker's result waits for the caller, who pools it. One worker per
process; while it is busy (another thread's query), the caller runs the model itself,
or, on an event loop's thread, leaves the query to the retrieval's worker thread.

Where the system allows it (Linux), the worker runs each job on a CPU other than
the caller's: Linux wakes a thread on its waker's CPU when it can ("wake affine"),
and there the model only ran when the caller paused, so it took 2.2 instead of 1.4
ms while the caller ran Python beside it (two vCPUs); kept off the caller's CPU it
runs at full speed. The caller who reserved the worker sets its CPUs before waking
it (so it wakes there and does not move after), only from those the caller may use,
and only when the caller may use more than one.

The caller waits for the worker to be inside the model by yielding the GIL again and
again (``time.sleep(0)``), up to ``YIELD_FOR`` seconds, and only then sleeps on the
worker's signal (a process kept to one CPU sleeps at once): a caller that sleeps gives
its CPU up, and on two vCPUs another thread often had it when the worker woke the
caller. On the async LLM path, whose reads run in an executor thread, 46% of the
callers woke 0.3-2 ms late (half or more of those had been moved onto the model's
CPU, where they waited for it); yielding, 5% did.

When the thread that started the model is not the one that works beside it (the event
loop starts a long message's model, then its reads run in an executor thread), the
worker was placed off the loop's CPU, and the executor thread woke on the worker's in
about half the calls (the loop's CPU was busy when it was woken), so the two shared one
CPU while the other idled: the thread that works beside calls ``keep_apart`` first.
"""

from __future__ import annotations

import functools
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from memori.core.forks import in_children

Run = Callable[[], Any]

YIELD_FOR = 0.001
"""Seconds the caller yields the GIL, awake, for the worker to take its job; then it sleeps."""


class _Job:
    __slots__ = ("done", "error", "result", "run", "started")

    def __init__(self, run: Run) -> None:
        self.run = run
        self.started = threading.Event()
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class Beside:
    """A handle on a run started beside the caller: :meth:`result` waits for it."""

    def __init__(self, job: _Job | None, value: Any = None) -> None:
        self._job = job
        self._value = value

    def result(self) -> Any:
        job = self._job
        if job is None:
            return self._value
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def keep_apart(self) -> None:
        """Keep the run off the CPU of the thread calling this: one that will work
        beside it but did not start it (an event loop starts a long message's model and
        hands its reads to another thread, which Linux often wakes on the model's CPU)."""
        job = self._job
        if job is None or not _several_cpus():
            return
        cpus = _other_cpus()
        if cpus is None:
            return
        global _placed
        with _lock:  # while the job runs the worker is its own (see _serve)
            if not job.done.is_set() and _tid is not None and cpus != _placed:
                _placed = cpus if _place(_tid, cpus) else None


_lock = threading.Lock()
_jobs: queue.SimpleQueue[_Job] | None = None
_busy = False
_tid: int | None = None  # the worker's thread id (placed by the caller who reserved it)
_placed: frozenset[int] | None = None


def _serve(jobs: queue.SimpleQueue[_Job], ready: threading.Event) -> None:
    global _busy, _tid
    _tid = threading.get_native_id()
    ready.set()
    while True:
        job = jobs.get()
        job.started.set()
        try:
            job.result = job.run()
        except BaseException as e:  # handed to the caller, who raises it
            job.error = e
        finally:
            with _lock:  # together: a job not done holds the worker (keep_apart)
                _busy = False
                job.done.set()


def start(run: Run, *, inline_if_busy: bool = True) -> Beside | None:
    """Start ``run()`` on the worker, returning when the worker is in it; with the
    worker busy, run it here and now (``inline_if_busy``, for a thread that may wait),
    or return None (for an event loop's thread, which must not)."""
    global _jobs, _busy, _placed
    with _lock:
        if _busy:
            jobs = None
        else:
            if _jobs is None:
                _jobs, ready = queue.SimpleQueue(), threading.Event()
                threading.Thread(target=_serve, args=(_jobs, ready),
                                 name="memori-embed-beside", daemon=True).start()
                ready.wait()
            _busy = True
            jobs = _jobs
    if jobs is None:
        return Beside(None, run()) if inline_if_busy else None
    cpus = _other_cpus()  # the worker is ours until its job ends: place it before waking it
    if cpus is not None and cpus != _placed and _tid is not None:
        _placed = cpus if _place(_tid, cpus) else None
    job = _Job(run)
    jobs.put(job)
    _await(job.started, YIELD_FOR if _several_cpus() else 0.0)
    return Beside(job)


def _after_fork_in_child() -> None:
    """A forked child has only the thread that forked: not the parent's worker (nor its
    job), and ``_lock`` may have been held by a thread it does not have. It starts its
    own worker on first use."""
    global _lock, _jobs, _busy, _tid, _placed
    _lock = threading.Lock()
    _jobs, _busy, _tid, _placed = None, False, None, None


in_children(_after_fork_in_child)


@functools.cache
def _several_cpus() -> bool:
    """Whether this process may run on more than one CPU: on one, a caller that kept it
    while yielding the GIL would only keep the worker from running."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):
        return (os.cpu_count() or 1) > 1


def _await(started: threading.Event, yield_for: float) -> None:
    """Return once ``started`` is set: yielding the GIL, awake, for ``yield_for`` seconds
    (the worker needs the GIL to take its job), then asleep until it is set."""
    deadline = time.perf_counter() + yield_for
    while not started.is_set():
        if time.perf_counter() >= deadline:
            started.wait()
            return
        time.sleep(0)  # releases the GIL, keeps the CPU


def _other_cpus() -> frozenset[int] | None:
    """The CPUs the calling thread may use, but the one it runs on; None where that
    cannot be known or set, or leaves nothing."""
    getcpu = _sched_getcpu()
    if getcpu is None:
        return None
    try:
        allowed = os.sched_getaffinity(0)
        cpu = getcpu()
    except OSError:
        return None
    others = frozenset(allowed - {cpu})
    return others if others and cpu in allowed else None


@functools.cache
def _sched_getcpu() -> Callable[[], int] | None:
    """libc's ``sched_getcpu`` (called holding the GIL), where threads can be placed."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        import ctypes

        getcpu: Callable[[], int] = ctypes.PyDLL(None).sched_getcpu
        getcpu.restype = ctypes.c_int  # type: ignore[attr-defined]
        getcpu.argtypes = []  # type: ignore[attr-defined]
        if getcpu() < 0:
            return None
    except (OSError, AttributeError):
        return None
    return getcpu


def _place(tid: int, cpus: frozenset[int]) -> bool:
    """Keep the thread ``tid`` (the worker, waiting for its job) on ``cpus``, so it wakes
    there and does not move after; False if the system refused."""
    try:
        os.sched_setaffinity(tid, cpus)
    except OSError:
        return False
    return True
