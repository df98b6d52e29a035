"""User-facing errors.

Every problem caused by the user's input (data files, configs, CLI arguments) is raised as
:class:`InputError`. The CLI prints its message as one line and exits with code 2, without a
traceback; the message names the file, row or key at fault.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input: a data file, a config or a command-line argument."""

    def __init__(self, message: str, *, path: str | Path | None = None, row: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}"
            if row is not None:
                where += f": row {row}"
            where += ": "
        super().__init__(where + message)
        self.path = None if path is None else Path(path)
        self.row = row
