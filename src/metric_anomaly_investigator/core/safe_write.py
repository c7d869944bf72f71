"""Writing user-visible files without ever destroying the user's data.

Every file ``mai`` writes for the user (a saved record, a Markdown export, a generated world)
goes through :func:`check_target` first: it refuses any path that is, or lies inside, a file of
the warehouse being analysed (or its config), anything that is not a regular file, and an
existing file the caller does not recognise as its own kind (``replaceable``). The write itself
is :func:`write_text_atomic`: a temporary file in the same directory, fsync, ``os.replace``, with
the replaced file's permission bits kept.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

MAX_WAREHOUSE_ENTRIES = 10_000  # files of a directory warehouse looked at (symlinks resolved)
DUCKDB_MAGIC = b"DUCK"  # bytes 8–12 of every DuckDB database file


class UnsafeWriteError(Exception):
    """A write that would destroy something; one-line, user-facing message."""


def warehouse_paths(label: str) -> list[Path]:
    """The paths that belong to the warehouse ``label`` (a record's ``warehouse`` field).

    A DuckDB file protects itself and its write-ahead log; a directory of Parquet/CSV tables
    protects itself, everything inside it, and the targets of symlinks inside it. A database
    URL has no local files.
    """
    if label.startswith("duckdb://"):
        label = label[len("duckdb://") :]
    elif "://" in label or label in ("", "(none)", ":memory:"):
        return []
    path = Path(label).expanduser()
    paths = [path, path.with_name(path.name + ".wal")]
    if path.is_dir():
        for count, child in enumerate(path.rglob("*")):
            if count >= MAX_WAREHOUSE_ENTRIES:
                break
            if child.is_symlink():
                paths.append(child)
    return paths


def _resolved(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check_target(
    path: Path,
    *,
    protected: Iterable[Path] = (),
    replaceable: Callable[[Path], bool] | None = None,
    what: str = "file",
) -> Path:
    """Where ``path`` may be written (symlinks resolved), or :class:`UnsafeWriteError`.

    ``protected`` are the warehouse's files and directories and the config file; a directory
    protects everything under it. An existing ``path`` must be a regular file for which
    ``replaceable`` says yes (None: an existing file is never replaced).
    """
    target = _resolved(path.expanduser())
    try:
        target_stat: os.stat_result | None = target.stat()
    except FileNotFoundError:
        target_stat = None
    except OSError as exc:
        raise UnsafeWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    for item in protected:
        guarded = _resolved(item.expanduser())
        if target == guarded or guarded in target.parents:
            raise UnsafeWriteError(
                f"refusing to write {path}: it is part of the warehouse or config being read "
                f"({item}); choose another file"
            )
        if target_stat is not None:
            with contextlib.suppress(OSError):
                if _same_file(target_stat, guarded.stat()):
                    raise UnsafeWriteError(
                        f"refusing to write {path}: it is the same file as {item}, which is "
                        "being read; choose another file"
                    )
    if target_stat is None:
        if not target.parent.is_dir():
            raise UnsafeWriteError(f"cannot write {path}: directory {target.parent} does not exist")
        return target
    if stat.S_ISDIR(target_stat.st_mode):
        raise UnsafeWriteError(f"{path} is a directory; give a file name")
    if not stat.S_ISREG(target_stat.st_mode):
        raise UnsafeWriteError(f"refusing to write {path}: it is not a regular file")
    if replaceable is None or not replaceable(target):
        raise UnsafeWriteError(
            f"refusing to overwrite {path}: it exists and is not a {what}; choose another file"
        )
    return target


def is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` is a DuckDB database (by its header, without opening it)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(12)[8:12] == DUCKDB_MAGIC
    except OSError:
        return False


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temp file beside it, fsync, ``os.replace``).

    A new file gets the mode a plain ``open(path, "w")`` would give it (the OS applies the umask
    to 0666); a replaced file keeps its permission bits. ``OSError`` propagates; the temporary
    file is removed on any failure.
    """
    try:
        keep: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        keep = None
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if keep is not None:
            os.chmod(tmp, keep)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
