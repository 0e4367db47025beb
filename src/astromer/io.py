"""Atomic writes: the one implementation behind every file and folder the library writes.

A file is written to a temporary file beside its target and renamed over it, so that a reader, a kill or a
full disk never leaves half a file. Files get the mode an ordinary ``open()`` would give (0666 less the
umask; folders 0777 less the umask), so that results in a shared project folder on a cluster are readable by
the group: ``tempfile`` alone would leave them 0600/0700. A failure to write raises
:class:`~astromer.errors.WriteError` naming the target.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import WriteError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def make_dir(folder) -> Path:
    """``mkdir -p`` that names the folder when it cannot be made."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), folder)
        raise WriteError(folder, f"{blocker} is a file, not a folder") from None
    except OSError as exc:
        raise WriteError(folder, exc) from None
    return folder


def _prepare(path: Path) -> None:
    make_dir(path.parent)


@contextlib.contextmanager
def atomic_path(path, suffix: str = ".tmp"):
    """Yield a temporary path beside ``path``; when the block ends without error it replaces ``path``.

    ``suffix`` matters to writers that look at the name (``.keras``, ``.npz``, ``.pdf``)."""
    path = Path(path)
    _prepare(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except WriteError:
        raise
    except OSError as exc:  # ENOSPC, EACCES, EROFS ... from the writer or the rename
        raise WriteError(path, exc) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)  # argparse namespaces hold odd types; a record must still be written


def atomic_write_json(path, obj, sort_keys: bool = False) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=sort_keys, default=_json_default) + "\n")


def atomic_savez(path, **arrays) -> Path:
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return Path(path)


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a temporary folder beside ``path``; when the block ends without error it replaces ``path``
    (an existing folder is moved aside first, then deleted)."""
    target = Path(path)
    _prepare(target)
    try:
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    except OSError as exc:
        raise WriteError(target, exc) from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if target.exists():
            trash = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
            os.replace(target, trash / "old")
            os.replace(tmp, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except WriteError:
        raise
    except OSError as exc:
        raise WriteError(target, exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
