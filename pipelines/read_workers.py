"""Reading untrusted workbooks in worker processes, each under a time limit and a memory cap.

A parser fed a hostile file may run for ever, or abort the whole process (calamine is Rust:
a failed allocation is `abort()`, which no `except` can catch). So each workbook is read in
a worker process: a file whose reading takes more than `read_seconds` has its worker
killed; a worker that dies (SIGABRT, SIGKILL, a `MemoryError` under its `RLIMIT_AS` cap of
`worker_memory_bytes`) is replaced; either way that file is set aside with a sentence and
the other files go on. Results come back in the order of the files, so the issues and cells
of a year are exactly what reading them one after another in this process would give.

A worker is a fresh interpreter (`subprocess`, fork and exec) that imports only
`pipelines.workbooks` (no polars, DuckDB or Dagster): about 50 ms to start. It is not a
`fork` of this process, which may hold DuckDB connections and other threads (Dagster's,
DuckDB's own): a forked child gets copies of their locks in whatever state they were, and
could hang on one no thread will ever release. Nor is it a `multiprocessing` spawn or
forkserver child, which runs the caller's main script again: results would then depend on
how that script is written. The workers are kept for the life of the process and shared by
every year read in it (`read_workbooks`), so their start is paid once; decision 0008 gives
the measured cost. They stop when the process ends, or when their pipe closes.

A worker's standard output and error go to a file of its own, so that a Rust panic message
does not reach the user's terminal, and so that "memory allocation of N bytes failed" can be
told apart from another abort.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from pipelines.workbooks import Limits, Problem, WorkbookRead, read_workbook

Reader = Callable[[Path, Limits], WorkbookRead]  # a module-level function: it is sent to the worker by name

_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
         "from pipelines.read_workers import _serve; _serve(int(sys.argv[2]), int(sys.argv[3]))")


@dataclass
class _Done:
    index: int  # the file's place in the list being read
    read: WorkbookRead
    retire: bool = False  # the worker ran out of memory: it is replaced rather than trusted again


def _serve(job_fd: int, result_fd: int) -> None:
    """A worker: read the workbooks it is sent, one at a time, until its pipe closes."""
    jobs, results = Connection(job_fd, writable=False), Connection(result_fd, readable=False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    # openpyxl imports numpy, if it can, only to write numpy numbers; reading needs none of it,
    # and without it openpyxl is imported in a third of the time (a worker imports it when it
    # first meets a workbook with a formula error cell)
    sys.modules.setdefault("numpy", None)  # pyright: ignore[reportArgumentType]  # None blocks an import; the stubs allow modules only
    cap = None
    queue: deque = deque()
    while True:
        if not queue:
            try:
                batch = jobs.recv()
            except (EOFError, OSError):
                return  # the parent has gone
            if batch is None:
                return
            reader, lim, files = batch
            queue.extend(files)
            if cap != lim.worker_memory_bytes:
                cap = lim.worker_memory_bytes
                _cap_memory(cap)
        i, path = queue.popleft()
        try:
            done = _Done(i, reader(path, lim))
        except MemoryError:
            done = _Done(i, WorkbookRead(problem=_out_of_memory(path, lim)), retire=True)
        except Exception as exc:  # noqa: BLE001 - whatever the reader raises, this file is set aside
            done = _Done(i, WorkbookRead(problem=Problem(
                "reader_failed", f"{path.name} could not be read: the reader failed on it ({type(exc).__name__}), so "
                                 f"it was set aside. {_ASK}")))
        try:
            results.send(done)
        except MemoryError:  # the rows could not be sent: as good as not read
            done = _Done(i, WorkbookRead(problem=_out_of_memory(path, lim)), retire=True)
            results.send(done)
        if done.retire:
            return


def _cap_memory(cap: int) -> None:
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    except (ImportError, ValueError, OSError):  # no such limit here: the time limit still holds
        pass


_ASK = ("A return made from the template is read in a fraction of a second: ask the authority to check that the "
        "workbook holds only the return (nothing large hidden beyond the tables) and to send it again")


def _out_of_memory(path: Path, lim: Limits) -> Problem:
    return Problem("reader_failed", f"{path.name} could not be read: the reader ran out of memory on it (a reader may "
                                    f"use {lim.worker_memory_bytes / 2**30:g} GiB), so it was set aside. {_ASK}")


def _timed_out(path: Path, lim: Limits) -> Problem:
    return Problem("read_timeout", f"{path.name} could not be read: reading it took more than {lim.read_seconds:g} s, "
                                   f"so it was stopped and the file set aside. {_ASK}")


def _died(path: Path, lim: Limits, returncode: int | None, output: str) -> Problem:
    if "memory allocation of" in output or "MemoryError" in output:
        return _out_of_memory(path, lim)
    if returncode is not None and returncode < 0:
        try:
            how = f"it was stopped by the signal {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"it was stopped by signal {-returncode}"
    else:
        how = f"it ended with status {returncode}"
    return Problem("reader_failed", f"{path.name} could not be read: the reader stopped abruptly on it ({how}), so it "
                                    f"was set aside. {_ASK}")


class _Worker:
    def __init__(self):
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        self.log = tempfile.TemporaryFile(prefix="dasa-reader-")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps([os.path.abspath(p) if p else os.getcwd() for p in sys.path]),
                 str(job_r), str(res_w)],
                pass_fds=(job_r, res_w), stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        finally:
            os.close(job_r)
            os.close(res_w)
        self.jobs = Connection(job_w, readable=False)
        self.results = Connection(res_r, writable=False)
        self.queue: deque[tuple[int, Path]] = deque()  # the files sent, in order; the first is being read
        self.deadline = 0.0  # when the first of them runs out of time

    def output_tail(self) -> str:
        try:
            self.log.seek(0, os.SEEK_END)
            self.log.seek(max(0, self.log.tell() - 8192))
            return self.log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def stop(self, kill: bool = False) -> None:
        if not kill:
            try:
                self.jobs.send(None)
                self.proc.wait(2)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                kill = True
        if kill and self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for c in (self.jobs, self.results):
            c.close()
        self.log.close()


class Readers:
    """Worker processes reading workbooks, started as they are needed and kept until `close`.

    Each worker is given a few files at a time (`QUEUED`), which it reads one after the other:
    it need not wait for this process to take each result before starting the next file, and
    a busy machine's switches between processes are not paid once per file. The time limit
    runs for the file a worker is on (the first of its queue) from when it got to it."""

    QUEUED = 8

    def __init__(self):
        self.workers: list[_Worker] = []

    def __enter__(self) -> Readers:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        workers, self.workers = self.workers, []
        for w in workers:
            w.stop(kill=bool(w.queue))

    def _drop(self, w: _Worker) -> None:
        self.workers.remove(w)
        w.stop(kill=True)

    def read(self, paths: list[Path], lim: Limits, reader: Reader = read_workbook,
             ) -> Iterator[tuple[Path, WorkbookRead]]:
        """Each path with what `reader` made of it, in the order given, as soon as it is known:
        up to `lim.workers` files are read at once."""
        n = max(1, min(lim.workers, len(paths)))
        pending = deque(enumerate(paths))
        results: dict[int, WorkbookRead] = {}
        next_out = 0
        try:
            while next_out < len(paths):
                while next_out in results:
                    yield paths[next_out], results.pop(next_out)
                    next_out += 1
                if next_out >= len(paths):
                    return
                self._dispatch(pending, lim, reader, n)
                self._collect(results, pending, lim)
        finally:
            for w in [w for w in self.workers if w.queue]:  # left mid-file (the caller stopped)
                self._drop(w)

    def _dispatch(self, pending: deque, lim: Limits, reader: Reader, n: int) -> None:
        """Give each worker files up to QUEUED (one message for several), starting workers up to n."""
        while pending:
            for w in [w for w in self.workers if not w.queue and w.proc.poll() is not None]:
                self._drop(w)  # it ended while idle
            if len(self.workers) < n and all(w.queue for w in self.workers):
                self.workers.append(_Worker())
            w = min(self.workers[:n], key=lambda w: len(w.queue))
            room = self.QUEUED - len(w.queue)
            if room <= 0:
                return
            # a fair share when the files run out, so that no worker is given them all
            share = max(1, min(room, -(-len(pending) // n)))
            files = [pending.popleft() for _ in range(min(share, len(pending)))]
            try:
                w.jobs.send((reader, lim, files))
            except (OSError, ValueError):
                pending.extendleft(reversed(files))
                pending.extendleft(reversed(w.queue))
                self._drop(w)
                continue
            if not w.queue:
                w.deadline = time.monotonic() + lim.read_seconds
            w.queue.extend(files)

    def _collect(self, results: dict[int, WorkbookRead], pending: deque, lim: Limits) -> None:
        """Wait for the first worker to finish a file, die or run out of time."""
        busy = [w for w in self.workers if w.queue]
        if not busy:
            return
        timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
        ready = set(wait([w.results for w in busy], timeout))
        now = time.monotonic()
        for w in busy:
            if w.results in ready:
                died = retired = False
                while w.queue:
                    try:
                        if not w.results.poll():
                            break
                        done = w.results.recv()
                    except (EOFError, OSError):
                        died = True
                        break
                    i, path = w.queue.popleft()
                    if done.index != i:  # cannot be: a worker reads its files in the order given
                        raise RuntimeError(f"a workbook reader answered for file {done.index} instead of {i}")
                    results[i] = done.read
                    w.deadline = now + lim.read_seconds
                    if done.retire:
                        retired = True
                        break
                if not (died or retired):
                    continue
                if died:
                    try:
                        w.proc.wait(5)
                    except subprocess.TimeoutExpired:
                        pass
                    i, path = w.queue.popleft()
                    results[i] = WorkbookRead(problem=_died(path, lim, w.proc.returncode, w.output_tail()))
                pending.extendleft(reversed(w.queue))  # the files it had not got to: read by another
                w.queue.clear()
                self._drop(w)
            elif now >= w.deadline:
                i, path = w.queue.popleft()
                results[i] = WorkbookRead(problem=_timed_out(path, lim))
                pending.extendleft(reversed(w.queue))
                w.queue.clear()
                self._drop(w)


# --- the workers of this process -------------------------------------------------------------

_shared: Readers | None = None
_shared_lock = threading.Lock()


def read_workbooks(paths: list[Path], lim: Limits, reader: Reader = read_workbook,
                   ) -> Generator[tuple[Path, WorkbookRead], None, None]:
    """`Readers.read` with the workers of this process (started on first use, kept until it
    ends); a second thread reading at the same time gets workers of its own."""
    global _shared
    if not paths:
        return
    if _shared_lock.acquire(blocking=False):
        try:
            if _shared is None:
                _shared = Readers()
            yield from _shared.read(paths, lim, reader)
        finally:
            _shared_lock.release()
    else:
        with Readers() as own:
            yield from own.read(paths, lim, reader)


def close_workers() -> None:
    """Stop the workers of this process (they are started again when next needed)."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


def _forget_in_child() -> None:
    # a fork of this process (a pool of the disclosure step) must not use or stop its parent's workers
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()


atexit.register(close_workers)
os.register_at_fork(after_in_child=_forget_in_child)
