"""Downloads with the standard library only (nothing beyond the README install): the authors' data zips
(Google Drive) and their published weights (GitHub, see :mod:`astromer.core.weights`), and atomic unpacking.

- A transfer writes ``OUT.<url-hash>.part`` beside ``OUT``; a broken one resumes with an HTTP ``Range``
  request where the server honours it (206), else starts over (200). Only a complete file becomes ``OUT``
  (``os.replace``), so ``OUT`` existing means the download finished.
- A SHA-256 is checked where one is known; on a mismatch nothing is kept.
- Offline (or any failure) the error is one line: what was tried (URLs and why each failed) and what file
  to place where by hand.

The Google-Drive ids are configuration (the authors' get_data.sh): ``DRIVE_IDS``. Unpacking is separate so
that it is testable on local zips.
"""

from __future__ import annotations

import hashlib
import html.parser
import http.client
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from .errors import AstromerError
from .io import atomic_directory, make_dir

# From astromer-science/main-code data/get_data.sh.
DRIVE_IDS = {
    "macho": "1MInBPl0mt4Eerq5zxQsPMgJU-CbwLc8u",
    "alcock": "1PaZ7hVp_13WyilLZlWlWNOZhCEbsKopA",
    "ogle": "1B8fgyPrNNR5FQdGwPAIWmMk87aL1RZRD",
    "atlas": "125euwxpF0WY_oWq3jVtq9c5pNyUISAOO",
}
# Drive's direct endpoint; confirm=t skips the "cannot scan for viruses" page of large files (what gdown
# does); if Drive still answers with that page, its download form is followed once (_DriveForm).
DRIVE_URL = "https://drive.usercontent.google.com/download?id={id}&export=download&confirm=t"
DRIVE_PAGE = "https://drive.google.com/file/d/{id}/view"
TIMEOUT_S = 60  # per connection attempt / read, not for the whole transfer
CHUNK = 1 << 20
USER_AGENT = "astromer-workflow (urllib)"


class DownloadError(AstromerError, RuntimeError):
    pass


class _NotTheFile(Exception):
    """The server answered, but not with the file (an HTML page instead of a zip, a short body)."""


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def part_path(out: Path, url: str) -> Path:
    """The partial file of ``url``'s transfer to ``out`` (one per URL: a resume never mixes two sources)."""
    return out.with_name(f"{out.name}.{hashlib.sha256(url.encode()).hexdigest()[:10]}.part")


class _DriveForm(html.parser.HTMLParser):
    """The download form of Drive's virus-scan warning page: its action and hidden inputs."""

    def __init__(self):
        super().__init__()
        self.action, self.fields, self._inside = None, {}, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == "download-form":
            self.action, self._inside = attrs.get("action"), True
        elif tag == "input" and self._inside and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False


def _transfer(url: str, part: Path, timeout: float, follow_form: bool = True) -> None:
    """Fetch ``url`` into ``part``, appending after what ``part`` already holds where the server allows."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing after what we have: complete if the server's size says so
            total = (exc.headers.get("Content-Range") or "").rpartition("/")[2]
            if total.isdigit() and int(total) == have:
                return
            part.unlink()
        raise
    with response:
        status = response.getcode() or 200  # file:// answers None
        if "text/html" in (response.headers.get("Content-Type") or ""):
            page = response.read(CHUNK).decode("utf-8", "replace")
            form = _DriveForm()
            form.feed(page)
            if follow_form and form.action:
                target = f"{form.action}?{urllib.parse.urlencode(form.fields)}"
                return _transfer(target, part, timeout, follow_form=False)
            raise _NotTheFile(
                "the server sent an HTML page, not the file (not shared publicly, quota exceeded, or moved)"
            )
        append = have and status == 206
        if append:
            start = (response.headers.get("Content-Range") or "").removeprefix("bytes ").partition("-")[0]
            if start != str(have):
                raise _NotTheFile(f"the server resumed at byte {start or '?'}, not {have}")
        expected = response.headers.get("Content-Length")
        received = 0
        with open(part, "ab" if append else "wb") as handle:
            for block in iter(lambda: response.read(CHUNK), b""):
                handle.write(block)
                received += len(block)
        if expected is not None and expected.isdigit() and received < int(expected):
            raise _NotTheFile(f"the transfer broke after {have * bool(append) + received} bytes (kept for resuming)")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def fetch(
    urls,
    out,
    *,
    what: str,
    by_hand: str,
    sha256: str | None = None,
    expect_zip: bool = True,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download ``out`` from the first of ``urls`` that serves it; resumes a partial transfer.

    ``what`` names the thing downloaded and ``by_hand`` says how to place it by hand; both go into the
    one-line :class:`DownloadError` raised when every URL fails or the SHA-256 (if given) does not match.
    """
    out = Path(out)
    make_dir(out.parent)
    tried = []
    for url in urls:
        part = part_path(out, url)
        try:
            _transfer(url, part, timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError, _NotTheFile) as exc:
            tried.append(f"{url} ({_reason(exc)})")
            continue
        if expect_zip and not zipfile.is_zipfile(part):
            part.unlink()
            tried.append(f"{url} (not a zip file)")
            continue
        if sha256 is not None:
            got = sha256_file(part)
            if got != sha256.lower():
                part.unlink()
                raise DownloadError(
                    f"{what}: checksum mismatch: {url} gave a file with SHA-256 {got}, expected "
                    f"{sha256.lower()}; nothing was kept. {by_hand}"
                )
        os.replace(part, out)
        return out
    raise DownloadError(f"{what}: could not download it (tried: {'; '.join(tried)}). {by_hand}")


def download_drive_file(
    file_id: str, out, dataset: str | None = None, sha256: str | None = None, url: str | None = None
) -> Path:
    """The authors' zip with Google-Drive id ``file_id`` to ``out`` (``url`` overrides Drive's address)."""
    out = Path(out)
    what = f"dataset {dataset!r}" if dataset else f"Google-Drive file {file_id}"
    by_hand = (
        f"To place it by hand: download {DRIVE_PAGE.format(id=file_id)} in a browser and save it as "
        f"{out.resolve()}, then rerun."
    )
    return fetch([url or DRIVE_URL.format(id=file_id)], out, what=what, by_hand=by_hand, sha256=sha256)


def unpack(src, out, check=None) -> Path:
    """Unzip ``src`` into directory ``out`` atomically. A zip whose entries all sit under one top folder
    is flattened so that ``out`` holds that folder's contents (the authors' zips differ on this).
    ``check(folder)``, if given, inspects the unpacked files before they are moved into place (raise to
    refuse them: then nothing is written at ``out``)."""
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise DownloadError(f"{src}: does not exist")
    if not zipfile.is_zipfile(src):
        raise DownloadError(f"{src}: not a zip file")
    with atomic_directory(out) as tmp:
        with zipfile.ZipFile(src) as archive:
            for member in archive.namelist():
                target = (tmp / member).resolve()
                if not str(target).startswith(str(tmp.resolve())):
                    raise DownloadError(f"{src}: unsafe path {member!r} in zip")
            archive.extractall(tmp)
        shutil.rmtree(tmp / "__MACOSX", ignore_errors=True)
        entries = list(tmp.iterdir())
        if not entries:
            raise DownloadError(f"{src}: empty zip")
        if len(entries) == 1 and entries[0].is_dir():  # flatten the one top folder
            top = entries[0].rename(tmp / ".top-folder")
            for item in list(top.iterdir()):
                os.replace(item, tmp / item.name)
            top.rmdir()
            if not any(tmp.iterdir()):
                raise DownloadError(f"{src}: empty zip")
        if check is not None:
            check(tmp)
    return out
