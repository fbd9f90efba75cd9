"""Atomic file writing: a reader sees the old file or the whole new one, never a part.

Every record, cache and checkpoint studylib writes goes through :func:`atomic_path`: the content
is written to a temporary file in the same folder, flushed to disk, and renamed over the target
(``os.replace`` is atomic on POSIX and Windows). A process killed mid-write leaves at most a
stray ``.tmp-*`` file, which the next write of the same target ignores.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path; on normal exit it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temporary(path)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _new_temporary(path: Path) -> Path:
    """Create an empty ``.tmp-<name>.<random>`` next to ``path``, with the permissions an ordinary
    ``open(path, "w")`` would give (0o666 less the umask). ``tempfile.mkstemp`` would make it
    0o600, and ``os.replace`` would pass that on: records and caches readable by their owner only.
    """
    for _ in range(100):
        tmp = path.parent / f".tmp-{path.name}.{secrets.token_hex(4)}"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    """Read JSON; a malformed file is a ValueError naming the file and the position."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: malformed JSON ({error})") from error


def _json_default(obj: Any) -> Any:
    """Numpy scalars/arrays and paths in records become plain JSON."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
