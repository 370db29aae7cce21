"""A static file server for a release repository, with HTTP Range.

Why: a unit resumes a cut download with ``Range: bytes=N-``. Production sites
put the repository behind the gateway host's nginx (docs/updates.md has the
stanza; nginx answers ranges itself); this server is for small sites, the
demo and the tests (``siaga admin release serve``), optionally over TLS.
"""

from __future__ import annotations

import http.server
import os
import re
import ssl
import threading
from functools import partial
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """GET/HEAD of files only (no directory listings), single byte ranges."""

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404, "no listing")
        return None

    def send_head(self) -> Any:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404, "not found")
            return None
        size = path.stat().st_size
        start, end = 0, size - 1
        m = _RANGE.match(self.headers.get("Range", ""))
        f = open(path, "rb")  # noqa: SIM115 -- closed by the base class after copyfile
        if m:
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            if start >= size or start > end:
                f.close()
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return None
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        f.seek(start)
        self._left = end - start + 1
        return f

    def copyfile(self, source: Any, outputfile: Any) -> None:
        left = getattr(self, "_left", None)
        while left is None or left > 0:
            block = source.read(64 * 1024 if left is None else min(64 * 1024, left))
            if not block:
                break
            outputfile.write(block)
            if left is not None:
                left -= len(block)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_server(repo: Path, host: str = "127.0.0.1", port: int = 0, *, tls_cert: Path | None = None,
                tls_key: Path | None = None,
                handler: type[RangeHandler] = RangeHandler) -> http.server.ThreadingHTTPServer:
    srv = http.server.ThreadingHTTPServer((host, port), partial(handler, directory=str(repo)))
    srv.daemon_threads = True
    if tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(tls_cert), str(tls_key) if tls_key else None)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return srv


def serve_in_thread(srv: http.server.ThreadingHTTPServer) -> threading.Thread:
    t = threading.Thread(target=srv.serve_forever, name="release-serve", daemon=True)
    t.start()
    return t
