"""One executor layer for ``alpha-as runs``, ``alpha-as replicate`` and the GA: map picklable tasks over a local
process pool or a Ray cluster.

:class:`Executor` ``(kind, workers, address)``:

* :meth:`Executor.run` ``(fn, items, done)`` runs ``fn(item)`` for every item and calls ``done(item, result)`` in
  this process as each finishes (in completion order); ``tick()`` is called about once a second while waiting (a
  progress bar polling the workers' files). A task that raises stops the run with that exception (the original
  one, also from a Ray worker) unless ``on_error(item, exc)`` takes it; a failed write
  (:func:`alpha_as.atomic.is_write_error`) always stops it. Leaving early (an error, Ctrl-C) cancels the tasks
  not finished.
* :meth:`Executor.pool` ``(initializer, initargs)`` is a context whose ``map(fn, items)`` yields ``fn(item)`` in
  input order, each worker having run ``initializer(*initargs)`` once first (the GA: each worker loads the GA day
  once).

``local``: a ``ProcessPoolExecutor`` of at most ``workers`` spawned processes (fresh interpreters sharing no file
descriptors or threads with the caller; each ignores Ctrl-C, left to the caller, and exits when the caller dies:
:func:`worker_init`); ``inline=True`` runs one worker's (or one item's) tasks in this process instead.

``ray``: each task is a Ray task of one CPU, on the cluster at ``address`` when given ("auto", "ray://host:10001",
"10.0.0.5:6379"; the package and the data must be reachable at the same absolute paths on every node, e.g. a
shared file system), else on a local instance started with ``workers`` CPUs, whose workers run at the caller's
priority (Ray niceness 0 unless ``RAY_worker_niceness`` is set; Ray's default, 15, makes them yield to every other
process of a shared machine). A task whose worker process or node dies is retried by Ray (its default 3 times):
every task here may run again (a job rewrites its temp folder, an agent chain resumes from its checkpoint, an
evaluation is pure); an exception the task raises is not retried. A Ray instance already initialised in this
process (a test's, a notebook's) is used as it is. Inside :func:`keep_ray`, an instance started by a map stays up
until the scope ends, so that every stage of a replication shares one start (Ray takes several seconds to start);
outside, it is shut down after the map. Ray is imported only here and only then (extra ``[cluster]``).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

from alpha_as.atomic import is_write_error
from alpha_as.errors import InputError

EXECUTORS = ("local", "ray")
TICK_SECONDS = 1.0


# ------------------------------------------------------------------------------------------- local workers


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(3)


def worker_init(parent: int) -> None:
    """Pool worker setup: leave Ctrl-C to the caller, and exit when the caller dies (kill -9)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _pool_init(parent: int, initializer: Callable | None, initargs: tuple) -> None:
    worker_init(parent)
    if initializer is not None:
        initializer(*initargs)


def process_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes set up by :func:`worker_init` (then ``initializer(*initargs)``)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_pool_init, initargs=(os.getpid(), initializer, initargs))


# ---------------------------------------------------------------------------------------------------- Ray

_KEEP = 0
"""Depth of the :func:`keep_ray` scopes."""
_STARTED = False
"""Whether this module initialised the current Ray instance (and so shuts it down)."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise InputError("the ray executor needs Ray: pip install '.[cluster]' (or pip install 'ray>=2.9')") from None
    return ray


def _error_line(e: BaseException) -> str:
    msg = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


@contextlib.contextmanager
def ray_session(workers: int, address: str | None):
    """Ray, initialised: connected to ``address``, else a local instance with ``workers`` CPUs (unless this
    process already has one); shut down at the end when it was started here, outside :func:`keep_ray`."""
    global _STARTED
    ray = import_ray()
    started = False
    if not ray.is_initialized():
        try:
            if address:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
            else:  # its workers at the priority of the local executor's (Ray's default: nice 15)
                os.environ.setdefault("RAY_worker_niceness", "0")
                ray.init(num_cpus=max(1, workers), include_dashboard=False, logging_level=logging.WARNING,
                         log_to_driver=False)
        except Exception as e:
            where = f"connect to the Ray cluster at {address}" if address else "start a local Ray instance"
            raise InputError(f"could not {where}: {_error_line(e)}") from None
        _STARTED = started = True
    try:
        yield ray
    finally:
        if started and _STARTED and _KEEP == 0:  # not an instance an enclosing session or keep_ray() holds
            _STARTED = False
            ray.shutdown()


@contextlib.contextmanager
def keep_ray():
    """Within: a Ray instance that a map starts stays up until the outermost scope ends."""
    global _KEEP, _STARTED
    _KEEP += 1
    try:
        yield
    finally:
        _KEEP -= 1
        if _KEEP == 0 and _STARTED:
            _STARTED = False
            import ray

            ray.shutdown()


def _cause(ray, e: BaseException) -> BaseException:
    """The exception a Ray task raised (its cause), else ``e`` (the worker or node died)."""
    if isinstance(e, ray.exceptions.RayTaskError):
        cause = getattr(e, "cause", None)
        if isinstance(cause, BaseException):
            return cause
    return e


_INITIALISED: set[str] = set()
"""The pools whose initializer ran in this (Ray worker) process."""


def _call_initialised(key: str, initializer: Callable | None, initargs: tuple, fn: Callable, item):
    """A Ray pool's task: the pool's initializer first when this worker has not run it yet, then ``fn(item)``."""
    if key not in _INITIALISED:
        if initializer is not None:
            initializer(*initargs)
        _INITIALISED.clear()  # one pool's state at a time (e.g. the GA's day)
        _INITIALISED.add(key)
    return fn(item)


# ---------------------------------------------------------------------------------------------- executor


@dataclass(frozen=True)
class Executor:
    """Where tasks run: ``kind`` "local" or "ray", ``workers`` (pool size / CPUs of a local Ray instance),
    ``address`` (ray: a running cluster; None: a local instance)."""

    kind: str = "local"
    workers: int = 1
    address: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise InputError(f"executor must be one of {', '.join(EXECUTORS)}, got {self.kind!r}")

    def describe(self, n_tasks: int | None = None, inline: bool = True) -> str:
        """"with 2 worker(s)", "in this process", "on the cluster at ADDR"."""
        if self.kind == "ray":
            return f"on the cluster at {self.address}" if self.address else f"with {self.workers} worker(s)"
        n = self.workers if n_tasks is None else min(self.workers, n_tasks)
        return "in this process" if inline and n <= 1 else f"with {self.workers} worker(s)"

    def run(self, fn: Callable, items: Iterable, done: Callable[[object, object], None], *,
            on_error: Callable[[object, BaseException], None] | None = None, tick: Callable[[], None] | None = None,
            inline: bool = True) -> None:
        """``done(item, fn(item))`` for every item as it finishes (see the module doc)."""
        items = list(items)
        if not items:
            return
        if self.kind == "ray":
            self._run_ray(fn, items, done, on_error, tick)
        elif inline and (self.workers <= 1 or len(items) <= 1):
            for item in items:
                try:
                    res = fn(item)
                except Exception as e:
                    if on_error is None or is_write_error(e):
                        raise
                    on_error(item, e)
                    continue
                done(item, res)
                if tick is not None:
                    tick()
        else:
            self._run_local(fn, items, done, on_error, tick)

    def _run_local(self, fn, items, done, on_error, tick) -> None:
        pool = process_pool(max(1, min(self.workers, len(items))))
        try:
            futures = {pool.submit(fn, item): item for item in items}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=TICK_SECONDS, return_when=FIRST_COMPLETED)
                if tick is not None:
                    tick()
                for fut in finished:
                    try:
                        res = fut.result()
                    except Exception as e:  # the task raised, its worker died (BrokenProcessPool), it did not pickle
                        if on_error is None or is_write_error(e):
                            raise
                        on_error(futures[fut], e)
                        continue
                    done(futures[fut], res)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _run_ray(self, fn, items, done, on_error, tick) -> None:
        with ray_session(self.workers, self.address) as ray:
            task = ray.remote(num_cpus=1)(fn)
            pending = {task.remote(item): item for item in items}
            try:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=1, timeout=TICK_SECONDS)
                    if tick is not None:
                        tick()
                    for ref in ready:
                        item = pending.pop(ref)
                        try:
                            res = ray.get(ref)
                        except Exception as e:
                            cause = _cause(ray, e)
                            if on_error is None or is_write_error(cause):
                                raise cause from None
                            on_error(item, cause)
                            continue
                        done(item, res)
            finally:
                for ref in pending:  # leaving early: the tasks still queued or running are stopped
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)

    @contextlib.contextmanager
    def pool(self, initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[_Pool]:
        """A pool whose ``map(fn, items)`` yields the results in input order (see the module doc)."""
        if self.kind == "ray":
            with ray_session(self.workers, self.address) as ray:
                p = _RayPool(ray, initializer, initargs)
                try:
                    yield p
                finally:
                    p.cancel()
        else:
            pool = process_pool(max(1, self.workers), initializer, initargs)
            ok = False
            try:
                yield _LocalPool(pool)
                ok = True
            finally:
                pool.shutdown(wait=True, cancel_futures=not ok)


class _Pool:
    def map(self, fn: Callable, items: Iterable) -> Iterator:
        raise NotImplementedError


class _LocalPool(_Pool):
    def __init__(self, pool: ProcessPoolExecutor) -> None:
        self._pool = pool

    def map(self, fn: Callable, items: Iterable) -> Iterator:
        return self._pool.map(fn, items, chunksize=1)


class _RayPool(_Pool):
    def __init__(self, ray, initializer: Callable | None, initargs: tuple) -> None:
        self._ray, self._key = ray, uuid.uuid4().hex
        self._task = ray.remote(num_cpus=1)(_call_initialised)
        self._init, self._args = initializer, ray.put(initargs)
        self._pending: list = []

    def map(self, fn: Callable, items: Iterable) -> Iterator:
        refs = [self._task.remote(self._key, self._init, self._args, fn, item) for item in items]
        self._pending = refs
        for ref in refs:
            try:
                res = self._ray.get(ref)
            except Exception as e:
                raise _cause(self._ray, e) from None
            yield res
        self._pending = []

    def cancel(self) -> None:
        for ref in self._pending:
            with contextlib.suppress(Exception):
                self._ray.cancel(ref, force=True)
        self._pending = []
