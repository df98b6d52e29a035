"""The ``alpha-as`` command line.

Subcommands are registered by the layer that owns them (``alpha_as.data.cli`` for ``data ...``). Any
:class:`~alpha_as.errors.InputError` and any bad argument ends the program with one line on stderr and
exit code 2, never a traceback; so does a write that fails for a full disk, a file size limit, a quota or a
read-only / forbidden folder (:func:`os_error_line`).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence

from alpha_as import __version__
from alpha_as.atomic import is_write_error, write_error_line
from alpha_as.errors import InputError

EXIT_USAGE = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``alpha-as data import: error: ...``) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> ArgumentParser:
    from alpha_as.agents import cli as agents_cli
    from alpha_as.agents import features_cli
    from alpha_as.data import cli as data_cli
    from alpha_as.engine import cli as engine_cli
    from alpha_as.experiments import cli as experiments_cli
    from alpha_as.experiments import replicate_cli
    from alpha_as.report import cli as report_cli
    from alpha_as.tuning import cli as tuning_cli

    parser = ArgumentParser(
        prog="alpha-as",
        description="Alpha-AS replication and Avellaneda-Stoikov market-making toolkit on L2 order-book data.",
    )
    parser.add_argument("--version", action="version", version=f"alpha-as {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    data_cli.register(sub)
    engine_cli.register(sub)
    experiments_cli.register(sub)
    tuning_cli.register(sub)
    features_cli.register(sub)
    agents_cli.register(sub)
    replicate_cli.register(sub)
    report_cli.register(sub)
    return parser


def os_error_line(e: OSError) -> str | None:
    """The one line of a write that failed for want of room or permission (``cannot write FILE: File too large
    (disk full or file size limit); results written so far are kept``); None for any other ``OSError``.

    Every writer of results goes through :mod:`alpha_as.atomic`, which removes its temp file on failure, so
    nothing half-written is left under a final name. ``SIGXFSZ`` (a file size limit, ``ulimit -f``) is ignored
    by Python from startup, so the write fails with ``EFBIG`` instead of killing the process."""
    if is_write_error(e):
        return write_error_line(e)
    if e.errno in (errno.EACCES, errno.EROFS, errno.EPERM, errno.ENOTDIR, errno.EISDIR):  # e.g. an --out under a file
        where = f"{e.filename}: " if e.filename else ""
        return f"{where}{os.strerror(e.errno)}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        sys.stderr.write(f"alpha-as: error: {e}\n")
        return EXIT_USAGE
    except OSError as e:  # a full disk, a file size limit, a read-only or forbidden folder: one line, not a traceback
        line = os_error_line(e)
        if line is None:
            raise
        sys.stderr.write(f"alpha-as: error: {line}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("alpha-as: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
