"""Misbehaving TCP servers on 127.0.0.1, for faults below the HTTP client: one that
counts connections and drops each at once, one that accepts and never answers."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType

_BODY = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code><Message>m</Message></Error>"
SLOW_DOWN = (
    b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\n"
    + f"Content-Length: {len(_BODY)}\r\n\r\n".encode()
    + _BODY
)


class BadServer:
    """Accepts connections on 127.0.0.1 and counts them; ``mode`` says what it does next:
    ``503`` reads one request and answers ``503 SlowDown`` (``Connection: close``, so
    connections = requests), ``drop`` closes with a TCP reset right away, ``hang`` holds
    the connection silent until the server stops."""

    def __init__(self, mode: str) -> None:
        assert mode in ("503", "drop", "hang")
        self.mode = mode
        self.connections = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"bad-server-{mode}", daemon=True)

    @property
    def url(self) -> str:
        """The endpoint URL."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            if self.mode == "drop":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
            elif self.mode == "503":
                self._answer(conn)
            else:
                self._held.append(conn)

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            request = b""
            with contextlib.suppress(OSError):
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    request += chunk
                head, _, body = request.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                    if name.strip().lower() == b"expect":
                        conn.sendall(SLOW_DOWN)  # refuse before the body, like S3 may
                        return
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    body += chunk
                if head.startswith(b"HEAD "):
                    conn.sendall(SLOW_DOWN.partition(b"\r\n\r\n")[0] + b"\r\n\r\n")
                else:
                    conn.sendall(SLOW_DOWN)

    def __enter__(self) -> BadServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._sock.close()
        for conn in self._held:
            conn.close()
        self._thread.join(30)


class TruncatingProxy:
    """An HTTP proxy on 127.0.0.1 in front of a real S3 server (moto) that forwards
    everything, except that the next ``truncate`` GET responses carrying a body keep their
    full ``Content-Length`` header but send only ``keep`` of the body before the
    connection is cut — a truncated body, as a flaky network or load balancer makes one.
    """

    def __init__(self, upstream: str, *, keep: float = 0.5) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        target = urlsplit(upstream)
        proxy = self
        self.truncate = 0
        self.truncated = 0
        self.gets = 0
        self.keep = keep
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

            def _relay(self) -> None:
                import http.client

                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
                upstream_conn.request(self.command, self.path, body=body, headers=headers)
                response = upstream_conn.getresponse()
                payload = response.read()
                upstream_conn.close()
                cut = False
                if self.command == "GET" and payload:
                    with proxy._lock:
                        proxy.gets += 1
                        if proxy.truncate > 0:
                            proxy.truncate -= 1
                            proxy.truncated += 1
                            cut = True
                self.send_response_only(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                if self.command == "HEAD":  # no body: pass the object's length through
                    self.send_header("Content-Length", response.getheader("Content-Length", "0"))
                else:
                    self.send_header("Content-Length", str(len(payload)))
                if cut:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload[: int(len(payload) * proxy.keep)] if cut else payload)
                self.wfile.flush()
                if cut:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="truncating-proxy", daemon=True
        )

    def __enter__(self) -> TruncatingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(30)
