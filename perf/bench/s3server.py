"""A moto S3 server in its own process, with a request counter in front of it.

Run as ``python perf/bench/s3server.py --port N``; prints ``READY <port>`` once it is
listening on 127.0.0.1. Keeping the server out of the measured process means its CPU
(about 5 ms per small request on moto) is not charged to the client being timed,
while the client still waits for it, as it would for a real S3.

Besides moto's own API, two paths answer before moto sees the request:

- ``GET /__perf__/counts``: JSON ``{"requests": {"PUT object": n, ...}, "total": n,
  "cpu_s": server CPU seconds so far}``
- ``POST /__perf__/reset``: zero the counters.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

_SUBRESOURCES = ("uploads", "uploadId", "partNumber", "list-type", "delete", "tagging", "acl")


def classify(environ: dict[str, Any]) -> str:
    """``METHOD kind`` for an S3 request (path-style: /bucket[/key])."""
    method = environ.get("REQUEST_METHOD", "?")
    path = environ.get("PATH_INFO", "/")
    query = environ.get("QUERY_STRING", "")
    params = {part.split("=", 1)[0] for part in query.split("&") if part}
    target = "object" if path.strip("/").count("/") >= 1 else "bucket"
    if target == "bucket" and method == "GET":
        return "GET list"
    for sub in _SUBRESOURCES:
        if sub in params:
            return f"{method} {target}?{sub}"
    return f"{method} {target}"


class Counting:
    """WSGI middleware: count each request by kind; serve the /__perf__ paths."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__perf__/"):
            if path == "/__perf__/reset":
                with self.lock:
                    self.counts.clear()
                body = b"{}"
            else:
                with self.lock:
                    counts = dict(self.counts)
                body = json.dumps(
                    {
                        "requests": counts,
                        "total": sum(counts.values()),
                        # the process's CPU clock (ns resolution; os.times() ticks at 10 ms)
                        "cpu_s": time.process_time(),
                    }
                ).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        kind = classify(environ)
        with self.lock:
            self.counts[kind] += 1
        return self.app(environ, start_response)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    app = Counting(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        "127.0.0.1", args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    parent = os.getppid()

    def orphaned() -> None:  # the benchmark died without stopping us: stop too
        while os.getppid() == parent:
            time.sleep(1)
        server.shutdown()

    threading.Thread(target=orphaned, daemon=True).start()
    print(f"READY {server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
