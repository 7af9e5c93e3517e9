"""One build at a time, faults told in sentences, and what a killed build leaves behind.

`dasa release` and `dasa check` take the build lock (`<state>/.dasa.lock`, an flock on an
open file) before any work: a second build waits for it, saying once which build it waits
for, and gives up after `--wait` seconds with a sentence naming the running build. The
kernel drops an flock when its process ends, however it ends, so a lock file left by a
killed build never blocks; the pid, command, start time and host written into it are only
for the message. Under the lock, everything a build writes but has not yet published
(`.<name>.building-*` release folders, `<audit>/<year>.writing`, `.N.writing-*` vintages)
or has moved aside (`.<name>.old-*`) is surely left by a build that died, so it is removed,
or restored when it is the only copy of a release (decision 0013).

`<state>` is `data/processed`, or `$DASA_STATE_DIR` when set (the tests use it so their
builds leave nothing in the project): it holds the lock, the warehouse files and, unless
`$DASA_DAGSTER_STORAGE` says otherwise, Dagster's run storage.

This module imports neither Dagster nor the pipeline.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import glob
import json
import os
import platform
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.paths import PROCESSED_DIR

LOCK_FILE = ".dasa.lock"
DEFAULT_WAIT = 300.0  # seconds a build waits for a running one (`--wait`)
DEFAULT_KEEP_WORK = 3  # work warehouses of other raw folders kept, most recently used first
WORK_RECORD = "raw_dir.json"  # in each data/processed/work/<hash>/: the raw folder it was built from
FAULT_ENV = "DASA_FAULT_AT"


class BuildError(Exception):
    """A problem a person can act on; the CLI prints it without a traceback."""


def state_dir() -> Path:
    """Where the lock, the warehouse files and Dagster's storage go (read at each call)."""
    return Path(os.environ.get("DASA_STATE_DIR") or PROCESSED_DIR)


def keep_work_setting() -> int:
    """How many work warehouses of other raw folders are kept (`$DASA_KEEP_WORK`, default 3)."""
    text = os.environ.get("DASA_KEEP_WORK", "")
    return int(text) if text.strip().isdigit() else DEFAULT_KEEP_WORK


MEMORY_ENV = "DASA_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "2GB"
_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def memory_limit_setting() -> str:
    """What DuckDB may hold in memory before it spills to disk (`$DASA_DUCKDB_MEMORY_LIMIT`,
    default 2GB: a 50-million-record extract then builds in under 4 GB). Raises BuildError
    for a value DuckDB would not read."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    if not text:
        return DEFAULT_MEMORY_LIMIT
    if not _MEMORY.match(text):
        raise BuildError(f"${MEMORY_ENV} is {text!r}, which is not an amount of memory: give a number and a "
                         f"unit, such as 2GB or 512MB (or unset it for the default, {DEFAULT_MEMORY_LIMIT})")
    return text


def fault_point(name: str) -> None:
    """A named point of the build where `DASA_FAULT_AT=<name>` kills the process with SIGKILL,
    as a power cut or the OOM killer would (tests/test_build_faults.py): `audit-staged` (the
    audit bundle complete in its staging folder), `audit-moved` (the bundle in place, the
    release not yet), `release-renamed-old` (between the two renames of the release swap)."""
    if os.environ.get(FAULT_ENV) == name:
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


# --- the lock ----------------------------------------------------------------------------


class BuildLock:
    """The build lock held by this process (closing its file releases it)."""

    def __init__(self, path: Path, fd: int, info: dict):
        self.path, self.fd, self.info = path, fd, info

    def release(self) -> None:
        global _HELD
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)  # no stale name for the next message
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None
        if _HELD is self:
            _HELD = None


_HELD: BuildLock | None = None


def held() -> BuildLock | None:
    """The build lock this process holds, if any."""
    return _HELD


def _command() -> str:
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    return " ".join(shlex.quote(a) for a in args)


def describe_holder(info: dict | None) -> str:
    """'pid 123, `dasa release --year 2024-25`, since 2025-06-01 10:02:11 on host'."""
    if not info or "pid" not in info:
        return "another build (it has not yet written who it is)"
    text = f"pid {info['pid']}, `{info.get('command', '?')}`, since {info.get('started', '?')}"
    if info.get("host") and info["host"] != platform.node():
        text += f" on {info['host']}"
    return text


def _read_holder(fd: int) -> dict | None:
    try:
        data = os.pread(fd, 8192, 0)
        return json.loads(data.decode("utf-8")) if data.strip() else None
    except (OSError, ValueError):
        return None


def acquire(wait: float = DEFAULT_WAIT, notice: Callable[[str], None] | None = None,
            path: Path | None = None) -> BuildLock:
    """Take the build lock, waiting up to `wait` seconds for a running build (one line to
    `notice` says whom it waits for); BuildError naming the running build when it is still
    running then."""
    global _HELD
    path = Path(path) if path else state_dir() / LOCK_FILE
    notice = notice or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BuildError(fault_sentence(exc, "Taking the build lock", path)) from None
    deadline = time.monotonic() + max(0.0, wait)
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            holder = _read_holder(fd)
            left = deadline - time.monotonic()
            if left <= 0:
                os.close(fd)
                waited = f"after waiting {wait:g} s" if wait > 0 else "(--wait 0)"
                raise BuildError(
                    f"another build is running ({describe_holder(holder)}) and holds {path}; refusing "
                    f"to start {waited}. Let it finish, or give a longer --wait SECONDS.") from None
            if not said:
                notice(f"dasa: waiting up to {wait:g} s for the build running ({describe_holder(holder)}) to finish")
                said = True
            time.sleep(min(0.2, left))
        except OSError as exc:
            os.close(fd)
            raise BuildError(fault_sentence(exc, "Taking the build lock", path)) from None
    info = {"pid": os.getpid(), "command": _command(), "host": platform.node(),
            "started": dt.datetime.now().astimezone().isoformat(sep=" ", timespec="seconds")}
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info, sort_keys=True) + "\n").encode("utf-8"), 0)
    except OSError:
        pass  # the lock holds all the same; only the message of a waiting build is poorer
    _HELD = BuildLock(path, fd, info)
    return _HELD


@contextmanager
def build_lock(wait: float = DEFAULT_WAIT, notice: Callable[[str], None] | None = None) -> Iterator[BuildLock]:
    """Hold the build lock for the block; a process holding it already just goes on."""
    if _HELD is not None:
        yield _HELD
        return
    lock = acquire(wait, notice)
    try:
        yield lock
    finally:
        lock.release()


def hold_for_warehouse(db_path: Path) -> None:
    """A Dagster run of the UI (`make dev`) opening a warehouse of the state folder for
    writing takes the build lock for the rest of its process (the run's own process; ending
    it releases the lock), so `dasa release` never deletes a warehouse a UI run is writing
    and a UI run waits for a build. Warehouses elsewhere (the tests') take none."""
    if _HELD is not None:
        return
    try:
        Path(db_path).resolve().relative_to(state_dir().resolve())
    except ValueError:
        return
    acquire(DEFAULT_WAIT)


# --- faults as sentences -----------------------------------------------------------------

_REASONS = {
    errno.ENOSPC: ("the disk is full", "Free some space, or choose a folder on another disk"),
    errno.EDQUOT: ("the disk quota is used up", "Free some space, or choose a folder on another disk"),
    errno.EROFS: ("the file system is read-only", "Choose a folder on a writable disk"),
    errno.EACCES: ("permission is denied", "Choose a folder you can write to, or ask for write access to it"),
    errno.EPERM: ("the operation is not permitted", "Choose a folder you can write to, or ask for write access"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "Choose another folder"),
    errno.EISDIR: ("it is a folder, not a file", "Choose another path"),
    errno.ENOENT: ("a folder on the way does not exist", "Check the path, or choose another folder"),
    errno.EIO: ("the disk reported an input/output error", "Check the disk, or choose another folder"),
    errno.ENAMETOOLONG: ("the path is too long", "Choose a shorter path"),
}


def find_fault(exc: BaseException | None) -> BaseException | None:
    """The OSError or DuckDB I/O error behind an exception (Dagster wraps an asset's error in
    DagsterExecutionStepExecutionError.user_exception), or None."""
    import duckdb

    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (OSError, duckdb.IOException)):
            return e
        stack += [e.__context__, e.__cause__, getattr(e, "user_exception", None)]
    return None


def _errno_of(fault: BaseException) -> int | None:
    if isinstance(fault, OSError) and fault.errno:
        return fault.errno
    text = str(fault)
    for code in _REASONS:
        if os.strerror(code) in text:
            return code
    return None


def fault_path(fault: BaseException) -> Path | None:
    """The file or folder an OSError or a DuckDB I/O error is about."""
    if isinstance(fault, OSError) and fault.filename:
        return Path(os.fsdecode(fault.filename))
    found = re.search(r'"(/[^"]+)"', str(fault)) or re.search(r"'(/[^']+)'", str(fault))
    return Path(found.group(1)) if found else None


def fault_sentence(fault: BaseException, doing: str, path: Path | None = None) -> str:
    """'<doing> failed: could not write <path>: <reason in words>. <What to do>.'"""
    path = fault_path(fault) or path
    code = _errno_of(fault)
    text = str(fault).splitlines()[0] if str(fault) else type(fault).__name__
    if "Could not set lock" in text:
        reason, advice = "another program has it open", "Close it (a DuckDB shell or notebook), then build again"
    elif code in _REASONS:
        reason, advice = _REASONS[code]
        reason += f" ({os.strerror(code)})"
    else:
        reason = (fault.strerror if isinstance(fault, OSError) and fault.strerror else text)
        advice = "Check the folder, or choose another one"
    where = f" {path}" if path else ""
    return f"{doing} failed: could not write{where}: {reason}. {advice}."


def check_writable(folder: Path, what: str) -> None:
    """Stop (BuildError) unless `folder` can be made and written: before any work, so a bad
    --out-dir or --audit-dir costs nothing."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise BuildError(f"{what} {folder} cannot be made: {existing} is a file, not a folder. "
                         f"Choose another folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".dasa-probe-", dir=folder)
        try:
            os.write(fd, b"probe")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise BuildError(fault_sentence(exc, f"Checking {what}", folder) + " Nothing was built.") from None


# --- leftovers of killed builds ----------------------------------------------------------


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def leftovers_beside(target: Path) -> list[str]:
    """Remove a release folder's `.<name>.building-*` and `.<name>.old-*` (moved aside by a
    swap), restoring the newest `.old-*` when the release itself is missing (a build killed
    between the two renames). Returns what it did, one phrase each. Only under the lock."""
    target = Path(target).absolute()
    parent = target.parent
    if not parent.is_dir():
        return []
    done = []
    olds = sorted(parent.glob(f".{glob.escape(target.name)}.old-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    if olds and not target.exists():
        olds[0].rename(target)
        done.append(f"restored {target} from {olds[0].name}")
        olds = olds[1:]
    for p in [*sorted(parent.glob(f".{glob.escape(target.name)}.building-*")), *olds]:
        _remove(p)
        done.append(f"removed {p}")
    return done


def _swapped_in(folder: Path) -> set[Path]:
    """The folders of `folder` that a `.<name>.building-*` or `.<name>.old-*` is left beside."""
    if not folder.is_dir():
        return set()
    found = (re.fullmatch(r"\.(.+)\.(?:building|old)-.*", p.name) for p in folder.iterdir())
    return {folder.absolute() / m.group(1) for m in found if m}


def remove_leftovers(release_targets: list[Path], audit_root: Path | None = None,
                     vintages_dir: Path | None = None, releases_dir: Path | None = None) -> list[str]:
    """Everything a build writes before publishing it, or moves aside while publishing, left
    by a build that died: beside each release target (and every year of `releases_dir`),
    `<audit_root>/<year>.writing` and `.old-*`, and `<vintages_dir>/<year>/.N.writing-*`.
    Call it only while holding the lock: then none of it belongs to a running build."""
    done: list[str] = []
    targets = {Path(t).absolute() for t in release_targets}
    if releases_dir is not None:
        targets |= _swapped_in(Path(releases_dir))
    if audit_root is not None:
        targets |= _swapped_in(Path(audit_root))  # the audit bundle is swapped in like a release
    for t in sorted(targets):
        done += leftovers_beside(t)
    if audit_root is not None and Path(audit_root).is_dir():
        for p in sorted(Path(audit_root).glob("*.writing")):
            _remove(p)
            done.append(f"removed {p}")
    if vintages_dir is not None and Path(vintages_dir).is_dir():
        for p in sorted(Path(vintages_dir).glob("*/.*.writing-*")):
            _remove(p)
            done.append(f"removed {p}")
    return done


def moved_aside(target: Path) -> Path:
    """Where a swap moves the folder it replaces (`.<name>.old-<pid>`, beside it)."""
    target = Path(target)
    return target.parent / f".{target.name}.old-{os.getpid()}"


def swap_in(new: Path, target: Path, between: str | None = None) -> None:
    """Move `new` to `target`, moving a folder already there aside first and removing it
    after. A build killed between the two renames leaves `.<name>.old-*` and no `target`:
    the next build restores it (leftovers_beside); a failed second rename restores it here."""
    new, target = Path(new), Path(target)
    old = None
    if target.exists():
        old = moved_aside(target)
        _remove(old)
        target.rename(old)
    if between:
        fault_point(between)
    try:
        new.rename(target)
    except BaseException:
        if old is not None and not target.exists():
            old.rename(target)
        raise
    if old is not None:
        _remove(old)


def public_mode() -> int:
    """The mode of a new public folder: 0o777 less the umask (0o755 under the usual 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o777 & ~mask


# --- work warehouses ---------------------------------------------------------------------


def work_root() -> Path:
    return state_dir() / "work"


def record_work(db_path: Path, raw_dir: Path) -> None:
    """Record, beside a work warehouse, the raw folder it is built from (and, by the record's
    time, when it was last used)."""
    folder = Path(db_path).parent
    if folder.parent.resolve() != work_root().resolve():
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WORK_RECORD).write_text(json.dumps({"raw_dir": str(Path(raw_dir).resolve())}) + "\n",
                                      encoding="utf-8")


def prune_work(keep: int, current: Path | None = None) -> list[str]:
    """Remove the work warehouses whose raw folder no longer exists (or is not recorded: made
    before the record was kept), then all but the `keep` most recently used (the current
    build's counts among them). Only under the lock. Returns what it removed."""
    root = work_root()
    if not root.is_dir():
        return []
    current = Path(current).resolve() if current else None
    if current is not None and current.parent != root.resolve():
        current = None  # a warehouse given by path, not a work one
    done, alive = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if current is not None and folder.resolve() == current:
            continue
        record = folder / WORK_RECORD
        try:
            raw = Path(json.loads(record.read_text(encoding="utf-8"))["raw_dir"])
        except (OSError, ValueError, KeyError, TypeError):
            raw = None
        if raw is None or not raw.is_dir():
            _remove(folder)
            done.append(f"removed {folder} (its raw folder {'is gone' if raw else 'is not recorded'})")
        else:
            alive.append((record.stat().st_mtime, folder))
    alive.sort(reverse=True)
    room = max(0, keep - (1 if current is not None else 0))
    for _, folder in alive[room:]:
        _remove(folder)
        done.append(f"removed {folder} (only the {keep} most recently used work warehouses are kept)")
    return done


def reset_warehouse(db_path: Path) -> None:
    """Delete a build's warehouse and its write-ahead log, and an orphan `.wal` beside it
    (no database: the log of a killed build, which DuckDB must never replay into a new
    file). Only under the lock: another build may hold them."""
    db_path = Path(db_path)
    for p in (db_path, db_path.with_suffix(db_path.suffix + ".wal")):
        p.unlink(missing_ok=True)
    from pipelines import warehouse  # it imports this module

    _remove(warehouse.spill_dir(db_path))  # what DuckDB spilled
    _remove(warehouse.kept_evidence_dir(db_path))  # provenance's evidence of each year
    if db_path.parent.is_dir():
        for wal in db_path.parent.glob("*.duckdb.wal"):
            if not wal.with_suffix("").exists():
                wal.unlink(missing_ok=True)
