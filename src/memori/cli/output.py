"""How the CLI prints: aligned tables for people, JSON for scripts, progress on stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any, TextIO


def emit_json(value: Any, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json.dumps(value, ensure_ascii=False, default=str) + "\n")


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], out: TextIO | None = None,
          max_width: int = 60) -> None:
    """An aligned text table; long cells are shortened with an ellipsis."""
    out = out or sys.stdout

    def cell(value: Any) -> str:
        text = "" if value is None else str(value).replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()
              + "\n")
    for row in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")


def key_values(data: Mapping[str, Any], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    width = max((len(k) for k in data), default=0)
    for k, v in data.items():
        out.write(f"{k.ljust(width)}  {v}\n")


class Progress:
    """A one-line counter on stderr, redrawn at most ten times a second; silent off a TTY."""

    def __init__(self, label: str, total: int | None = None, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.count = 0
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._began = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if self.enabled and now - self._last > 0.1:
            self._last = now
            self._draw()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._began

    @property
    def rate(self) -> float:
        """Items per second so far."""
        return self.count / max(self.seconds, 1e-9)

    def _draw(self) -> None:
        rate = f" {self.rate:,.0f}/s"
        if self.total:
            width = 30
            done = int(width * min(self.count, self.total) / self.total)
            bar = "#" * done + "-" * (width - done)
            self.stream.write(f"\r{self.label} [{bar}] {self.count}/{self.total}{rate}")
        else:
            self.stream.write(f"\r{self.label} {self.count}{rate}")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
