"""Deriving the int8 model without making anyone wait for it.

The first time the local embedder loads on a machine (or with a fresh cache directory)
its int8 model does not exist yet, and deriving it takes about ten seconds. Meanwhile
the embedder serves with the shipped graph (float32 arithmetic, vectors within cosine
0.98 of the int8 ones) while the int8 model is derived into the cache; the embedder
switches to it when it is there, and later processes read it from the cache at once.

The derivation runs in a separate process: it is mostly Python (graph rewriting) and
in a thread it would hold the GIL against the application's own threads. Within a
process one derivation runs per cache directory and model. When there is no cache
directory, or the process cannot write one, the model is derived in a thread instead.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

from memori.core.forks import in_children
from memori.embedders.quantize import dynamic_int8, read_cached_int8

log = logging.getLogger(__name__)

_lock = threading.Lock()
_running: dict[tuple[str, str], Future[bytes]] = {}


def _forget_after_fork() -> None:
    """A forked child has none of the parent's derivation threads: its futures would
    never end, and the lock may have been held by one of them."""
    global _lock
    _lock = threading.Lock()
    _running.clear()


in_children(_forget_after_fork)


def derive_in_background(
    model_path: Path, model: bytes, source_sha256: str, cache_dir: Path | None
) -> Future[bytes]:
    """A future of the int8 model, derived in the background (shared while it runs)."""
    key = (str(cache_dir), source_sha256)
    with _lock:
        future = _running.get(key)
        if future is not None and not future.done():
            return future
        future = Future()
        _running[key] = future
    threading.Thread(
        target=_derive, args=(future, model_path, model, source_sha256, cache_dir),
        name="memori-int8-derivation", daemon=True,
    ).start()
    return future


def _derive(future: Future[bytes], model_path: Path, model: bytes, source_sha256: str,
            cache_dir: Path | None) -> None:
    try:
        data = None
        if cache_dir is not None:
            _derive_in_a_process(model_path, source_sha256, cache_dir)
            data = read_cached_int8(source_sha256, cache_dir)
        if data is None:  # no cache directory, or the process could not fill it
            data = dynamic_int8(model)
    except BaseException as e:  # handed to whoever waits on the future
        future.set_exception(e)
    else:
        future.set_result(data)


def _derive_in_a_process(model_path: Path, source_sha256: str, cache_dir: Path) -> None:
    command = [sys.executable, "-m", "memori.embedders.quantize", str(model_path),
               source_sha256, str(cache_dir)]
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1"}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        log.info("deriving the int8 model in a separate process failed (%s)", type(e).__name__)
        return
    if done.returncode != 0:
        log.info("deriving the int8 model in a separate process failed (exit %d): %s",
                 done.returncode, done.stderr.strip().splitlines()[-1:] or "")
