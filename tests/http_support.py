"""A local HTTP server on 127.0.0.1 for the download tests (never a real host): serves given bytes by path,
honours `Range` (206) unless told not to, and records the requests it got."""

from __future__ import annotations

import contextlib
import http.server
import threading


@contextlib.contextmanager
def serve(files: dict[str, bytes], ranges: bool = True):
    """Yield (base_url, requests) with `files` {'/name.zip': bytes}; requests: list of (path, Range header)."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            requests.append((self.path, self.headers.get("Range")))
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            wanted = self.headers.get("Range")
            if ranges and wanted and wanted.startswith("bytes="):
                start = int(wanted[6:].split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Type", "text/html" if body.startswith(b"<html") else "application/zip")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            self.wfile.write(body[start:])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", requests
    finally:
        server.shutdown()
        server.server_close()
