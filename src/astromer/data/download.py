"""Download the authors' data zips and weights from Google Drive (gdown), and unpack them atomically.

The Google-Drive ids are configuration (the authors' get_data.sh): ``DRIVE_IDS``. gdown is imported only
when downloading (optional dependency ``astromer-workflow[download]``); without it, or without network,
the error says so. Unpacking is separate so that it is testable on local zips.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path

# From astromer-science/main-code data/get_data.sh.
DRIVE_IDS = {"macho": "1MInBPl0mt4Eerq5zxQsPMgJU-CbwLc8u", "alcock": "1PaZ7hVp_13WyilLZlWlWNOZhCEbsKopA",
             "ogle": "1B8fgyPrNNR5FQdGwPAIWmMk87aL1RZRD", "atlas": "125euwxpF0WY_oWq3jVtq9c5pNyUISAOO"}


class DownloadError(RuntimeError):
    pass


def download_drive_file(file_id: str, out) -> Path:
    try:
        import gdown  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise DownloadError("gdown is not installed: pip install 'astromer-workflow[download]' "
                            "(or pip install gdown)") from exc
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    try:
        result = gdown.download(id=file_id, output=tmp, quiet=True)
        if result is None or os.path.getsize(tmp) == 0:
            raise DownloadError(f"download of Google-Drive file {file_id} failed (no network, or the "
                                "file is not shared publicly)")
        if not zipfile.is_zipfile(tmp):
            raise DownloadError(f"Google-Drive file {file_id} is not a zip (quota page or wrong id?)")
        os.replace(tmp, out)
    except DownloadError:
        raise
    except Exception as exc:  # gdown raises many kinds on network failures
        raise DownloadError(f"download of Google-Drive file {file_id} failed: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def unpack(src, out) -> Path:
    """Unzip ``src`` into directory ``out`` atomically. A zip whose entries all sit under one top folder
    is flattened so that ``out`` holds that folder's contents (the authors' zips differ on this)."""
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise DownloadError(f"{src}: does not exist")
    if not zipfile.is_zipfile(src):
        raise DownloadError(f"{src}: not a zip file")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        with zipfile.ZipFile(src) as archive:
            for member in archive.namelist():
                target = (tmp / member).resolve()
                if not str(target).startswith(str(tmp.resolve())):
                    raise DownloadError(f"{src}: unsafe path {member!r} in zip")
            archive.extractall(tmp)
        entries = [p for p in tmp.iterdir() if p.name != "__MACOSX"]
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        if not any(root.iterdir()):
            raise DownloadError(f"{src}: empty zip")
        if out.exists():
            trash = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, trash / "old")
            os.replace(root, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(root, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
