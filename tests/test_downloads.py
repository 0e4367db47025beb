"""Downloads from the README install (issue 16 item 3): the standard library only, resumable, checksummed,
one clear line offline. Servers are local (127.0.0.1); nothing here touches the network."""

import hashlib
import io
import subprocess
import sys
import textwrap
import zipfile

import pytest

from astromer.download import DownloadError, download_drive_file, fetch, part_path

from conftest import REPO
from http_support import serve


def a_zip(payload: bytes = b"light curves") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("alcock/LCs/a.dat", payload)
    return buffer.getvalue()


def test_download_code_needs_no_extra_package(tmp_path):
    """Import the download path and fail offline with gdown, requests and TensorFlow made unimportable."""
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"gdown", "requests", "tensorflow", "keras"}}:
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        sys.path.insert(0, {str(REPO / "src")!r})
        from astromer.download import download_drive_file, DownloadError
        from astromer.core import weights
        try:
            download_drive_file("FILEID", {str(tmp_path / "x" / "alcock.zip")!r}, dataset="alcock",
                                url="http://127.0.0.1:9/")
        except DownloadError as exc:
            print(exc)
        try:
            weights.fetch("macho", {str(tmp_path / "w" / "macho_a0")!r}, base_url="http://127.0.0.1:9/")
        except Exception as exc:
            print(type(exc).__name__, exc)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    drive, published = result.stdout.strip().splitlines()
    assert drive.startswith("dataset 'alcock': could not download it (tried: http://127.0.0.1:9/ (")
    assert f"save it as {tmp_path / 'x' / 'alcock.zip'}" in drive
    assert published.startswith("WeightsError published weights 'macho'") and "macho_a0.zip" in published


def test_a_broken_transfer_resumes_with_a_range_request(tmp_path):
    body = a_zip(b"x" * 50_000)
    out = tmp_path / "alcock.zip"
    with serve({"/f": body}) as (url, requests):
        part_path(out, f"{url}f").write_bytes(body[:20_000])
        download_drive_file("ID", out, dataset="alcock", url=f"{url}f", sha256=hashlib.sha256(body).hexdigest())
    assert requests == [("/f", "bytes=20000-")]
    assert out.read_bytes() == body and [p.name for p in tmp_path.iterdir()] == ["alcock.zip"]


def test_a_complete_part_is_recognised(tmp_path):
    body = a_zip()
    out = tmp_path / "a.zip"
    with serve({"/f": body}) as (url, requests):
        part_path(out, f"{url}f").write_bytes(body)  # killed after the last byte, before the rename
        fetch([f"{url}f"], out, what="dataset 'x'", by_hand="")
    assert requests == [("/f", f"bytes={len(body)}-")] and out.read_bytes() == body


def test_checksum_mismatch_keeps_nothing(tmp_path):
    out = tmp_path / "alcock.zip"
    with serve({"/f": a_zip()}) as (url, _):
        with pytest.raises(DownloadError, match=r"dataset 'alcock': checksum mismatch: .*expected 0{64}"):
            download_drive_file("ID", out, dataset="alcock", url=f"{url}f", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_an_html_page_is_not_taken_for_the_zip_and_drives_form_is_followed(tmp_path):
    body = a_zip()
    form = (
        b'<html><form id="download-form" action="http://127.0.0.1:PORT/real" method="get">'
        b'<input type="hidden" name="id" value="ID"><input type="hidden" name="confirm" value="t">'
        b"</form></html>"
    )
    files = {"/page": b"<html>quota exceeded</html>", "/real?id=ID&confirm=t": body}
    with serve(files) as (url, requests):
        port = url.rstrip("/").rsplit(":", 1)[1]
        files["/warning"] = form.replace(b"PORT", port.encode())  # the form points at this server
        with pytest.raises(DownloadError, match="HTML page, not the file"):
            download_drive_file("ID", tmp_path / "a.zip", url=f"{url}page")
        download_drive_file("ID", tmp_path / "b.zip", url=f"{url}warning")
    assert (tmp_path / "b.zip").read_bytes() == body
    assert [p for p, _ in requests] == ["/page", "/warning", "/real?id=ID&confirm=t"]
