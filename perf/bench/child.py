"""Work done in a fresh process so its peak RSS can be measured alone.

``python perf/bench/child.py TASK JSON_PARAMS``; prints one JSON line with the result.
Every task imports the same libraries first (boto3, s3fs, the router), so the
interpreter-and-imports floor is the same for all and the peak RSS differences are the
upload's own.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import s3fs
from botocore.config import Config

import router
from router import Router


def _client(endpoint: str, pool: int = 10) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=pool),
    )


def _policy(p: dict[str, Any]) -> dict[str, Any]:
    s3 = {"url": f"s3://{p['bucket']}/{p['root']}", "options": {"endpoint_url": p["endpoint"]}}
    local = {"url": f"file://{p['local']}"}
    if p["mode"] == "router":
        phase = {"primary": "s3"}
    elif p["mode"] == "dual-local-s3":
        phase = {"primary": "local", "shadow": "s3", "mode": "dual-write"}
    else:
        phase = {"primary": "s3", "shadow": "local", "mode": "dual-write"}
    return {
        "version": 1,
        "backends": {"s3": s3, "local": local},
        "routes": {"default": {"prefix": "", "phase": "p", "phases": {"p": phase}}},
        "journal": {"url": f"file://{p['journal']}"},
    }


def s5_upload(p: dict[str, Any]) -> dict[str, Any]:
    mode = p["mode"]
    size = os.path.getsize(p["file"])
    t0 = time.perf_counter()
    if mode == "idle":
        pass
    elif mode == "boto3":
        with open(p["file"], "rb") as src:
            _client(p["endpoint"]).upload_fileobj(src, p["bucket"], f"{p['root']}/{p['key']}")
    elif mode == "s3fs-defaults":
        fs = s3fs.S3FileSystem(endpoint_url=p["endpoint"], skip_instance_cache=True)
        fs.put_file(p["file"], f"{p['bucket']}/{p['root']}/{p['key']}")
    else:
        with (
            Router.from_dict(_policy(p)) as r,
            open(p["file"], "rb") as src,
            r.open(p["key"], "wb") as dst,
        ):
            shutil.copyfileobj(src, dst)  # 64 KiB chunks, as an application would
    return {"bytes": size, "seconds": time.perf_counter() - t0, "router": router.__name__}


def raw_put(p: dict[str, Any]) -> dict[str, Any]:
    """The ceiling: bare signed PUTs from many threads, no listing, no existence check."""
    src = p["src"]
    files = []
    for dirpath, _, names in os.walk(src):
        for name in names:
            path = os.path.join(dirpath, name)
            files.append((path, os.path.relpath(path, src)))
    client = _client(p["endpoint"], pool=p["threads"])

    def put(item: tuple[str, str]) -> int:
        path, rel = item
        with open(path, "rb") as f:
            body = f.read()
        client.put_object(Bucket=p["bucket"], Key=f"{p['prefix']}/{rel}", Body=body)
        return len(body)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(p["threads"]) as pool:
        total = sum(pool.map(put, files))
    return {"objects": len(files), "bytes": total, "seconds": time.perf_counter() - t0}


TASKS = {"s5-upload": s5_upload, "raw-put": raw_put}

if __name__ == "__main__":
    task, params = sys.argv[1], json.loads(sys.argv[2])
    print(json.dumps(TASKS[task](params)), flush=True)
