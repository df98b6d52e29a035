"""Progress that a person can read (issue #16 §4): one tqdm bar per long stage on a terminal, and plain lines when
the output is not a terminal (a log file, CI), where tqdm's carriage-return frames would pile up into megabytes.

:func:`progress_bar` is what every long stage uses (the synthetic market's days, the GA's evaluations, the runs'
jobs, the protocol's stages, the agents' training and test steps, PPO's timesteps). Off a terminal it returns a
:class:`LineProgress`: the same ``update`` / ``set_postfix`` / ``write`` / ``close`` / ``n`` as a tqdm bar, printing
one line per completed step, e.g.::

    Gen-AS: 45/450 eval (10%), 0:00:12 elapsed, best=+0.0123

With many steps (more than ``max_lines``, default 100) a line is printed when another 1/``max_lines`` of the
total is done instead, so that PPO's 100,000 timesteps make 100 lines, not 100,000; the last step always prints.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

MAX_LINES = 100


def is_terminal(file: IO[str]) -> bool:
    """Whether ``file`` is an interactive terminal (False for a closed or redirected stream)."""
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):
        return False


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LineProgress:
    """A tqdm stand-in for streams that are not terminals: one line per completed step (at most ``max_lines``
    lines over the total, and always the last), no carriage returns. ``disable`` makes it silent."""

    def __init__(self, total: int | None = None, desc: str = "", unit: str = "it", *, initial: int = 0,
                 file: IO[str] | None = None, disable: bool = False, max_lines: int = MAX_LINES) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = int(initial)
        self.file = file if file is not None else sys.stderr
        self.disable = disable
        self.every = max(1, -(-int(total) // max_lines)) if total and total > max_lines else 1
        self._printed = self.n
        self._postfix = ""
        self._t0 = time.monotonic()
        self._closed = False

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def _line(self) -> str:
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            count = f"{self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            count = f"{self.n} {self.unit}"
        tail = f", {self._postfix}" if self._postfix else ""
        return f"{head}{count}, {_clock(time.monotonic() - self._t0)} elapsed{tail}"

    def update(self, n: int = 1) -> None:
        """``n`` more steps done; prints a line when a step (or another 1/max_lines of the total) completed."""
        self.n += int(n)
        if self.disable or n <= 0:
            return
        last = self.total is not None and self.n >= self.total
        if last or self.n // self.every > self._printed // self.every:
            self._printed = self.n
            print(self._line(), file=self.file, flush=True)

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        """Extra ``key=value`` items at the end of the next lines (as tqdm's)."""
        self._postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def write(self, text: str, file: IO[str] | None = None) -> None:
        """A message on its own line (tqdm.write's role)."""
        print(text, file=file if file is not None else self.file, flush=True)

    def close(self) -> None:
        self._closed = True


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", *, initial: int = 0,
                 file: IO[str] | None = None, enabled: bool = True) -> Any:
    """A progress bar for a long stage: tqdm on a terminal, :class:`LineProgress` otherwise (silent when not
    ``enabled``). Use it as a context manager or close it."""
    file = file if file is not None else sys.stderr
    if enabled and is_terminal(file):
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, initial=initial, file=file, dynamic_ncols=True)
    return LineProgress(total, desc, unit, initial=initial, file=file, disable=not enabled)
