"""Hand-written text that RESULTS.md shows beside the numbers: how to read them, and
for each target a run misses, where the time goes (the profile) and what would close it.

The profiles quoted here were taken with the commands in perf/README.md; S1's cProfile
table is taken by every run. The first key that a figure starts with is used.
"""

PREAMBLE = """How to read this: every compared figure comes from the same run, with the
variants timed A/B/A/B (one call of each per round, in a shuffled order). p50/p95/p99 are
per call; ratios are of medians, with a 95% bootstrap interval. The S3 server is moto in
its own process on 127.0.0.1, so its CPU is not charged to the client being timed, but on
2 cores it competes with the client for CPU, and moto's server closes the connection
after every response (every request of every client opens a new TCP connection).
Absolute milliseconds (Δp50) and HTTP requests per object are given beside the ratios.

Local writes: the router's are atomic (temp file + rename) and, by default, durable
(fsync of the file and its directory); fsspec's direct write is neither. The S1 local
write target is judged on the router with `fsync: false` against fsspec; the default
(fsync) is set against the same durable write done by hand."""

EXPLANATIONS: dict[str, str] = {
    "S1 local 4 KiB read (router": (
        "fsspec's `LocalFileSystem.cat_file` of 4 KiB takes ~12 µs; a ratio of 1.10 leaves "
        "~1.2 µs for everything the router does per call (normalize the key, route it, run "
        "the executor's leg with its deadline and metrics), which is 4-6 µs of Python. The "
        "cProfile table under S1 shows where it goes: half of the op is fsspec's own "
        "`open()` machinery (`LocalFileOpener.__init__`, two `_strip_protocol` calls, seeks), "
        "which costs more than the read itself (compare `builtin open().read()`). **Closes "
        "it:** proposal 1, reading a whole local object with the builtin `open` inside "
        "`Router.cat_file`; measured in the same rounds as the `proposal 1` row (≈ 1.0 x "
        "fsspec); the code is `LocalFastReadRouter.cat_file` in perf/bench/proposals.py."
    ),
    "S1 local 4 KiB write (router, fsync: false": (
        "The router's local write is atomic: a temp file renamed over the target, so a "
        "reader never sees a torn file; fsspec truncates and rewrites the file in place. "
        "cProfile of `router.pipe_file` (fsync: false): ~75% of the op is `os.replace` "
        "(freeing the replaced inode on this ext4, mounted with `discard`), then `os.open` of "
        "the new temp file; the router's own Python (key lock, executor, metrics) is ~10 µs. "
        "Against the same atomic write done by hand the router is 1.1-1.3 x (tens of µs; "
        "note under the table). Nothing closes the gap to fsspec short of giving up atomic replacement, "
        "which the router should not do: read this target against the atomic write by hand."
    ),
    "S1 local 4 KiB write, fsync (default)": (
        "fsync of the file and of the directory dominates (milliseconds on this disk) and "
        "varies a lot between calls; the router's own Python is ~10-20 µs of it."
    ),
    "S1 local 4 KiB read with proposal 1": (
        "See S1 local 4 KiB read: the proposal removes fsspec's opener machinery but not the "
        "router's own 4-6 µs."
    ),
    "S1 S3": (
        "One S3 call through the router is the same s3fs call plus the router's Python "
        "(key, route, executor, metrics: ~10 µs on a local read, the same here) on a call "
        "of 3-8 ms whose p50 moves by a few per cent between rounds on a shared machine; "
        "where the 95% interval holds the limit the miss is within noise. The router's S3 "
        "reads are one GET (`max_concurrency: 1` in the router's default options) where "
        "s3fs's own default sends a HEAD first (2 requests, ~2x the latency, see the "
        "tables' request counts)."
    ),
    "S2 dual-write": (
        "On moto a request is almost all CPU: a 4 KiB s3fs PUT costs ~1.7 ms of client CPU "
        "(aiobotocore on s3fs's one event-loop thread, including a new TCP connection per "
        "request because moto closes each one) and ~2.2 ms of server CPU, of a ~4-7 ms call. "
        "Two legs in one process cannot overlap their client CPU (one event loop, one GIL), "
        "and client plus server(s) share two cores, so two concurrent legs cost about the "
        "sum of the two, whoever issues them: the row 'both legs by hand, concurrently' (a "
        "thread + the caller, no router) is within ~5% of the router's dual-write in every "
        "case, so the router's own machinery (pool hand-off, settle, key lock) is that ~5%. "
        "Against a real S3, where a PUT is mostly waiting on the network, the legs overlap "
        "and the max is the floor. Closing it on this benchmark would take less client CPU "
        "per S3 request (not the router's code) or legs in separate processes."
    ),
    "S3 fallback": (
        "The router's fallback read is the S3 miss (one GET, 404) plus the local read, plus "
        "its own Python and one stat of the journal directory (the guard against serving a "
        "stale side); see the Δp50."
    ),
    "S4 backfill small objects (router ÷ rclone": (
        "rclone copy sends 2 requests per object (HEAD + PUT) but its Go client needs "
        "almost no CPU, so it is bound by the server: with this moto (~1.8 ms of server "
        "CPU per request, faster than the issue's ~5 ms) rclone reaches ~240 objects/s, "
        "not ~100. The router sends 1 request per object but is bound by its own client "
        "CPU: py-spy of `router backfill` on 2,000 x 4 KiB shows the 8 worker threads 99% "
        "waiting in `_put_small` on s3fs's single event-loop thread (`fsspecIO`), which is "
        "~90% busy: aiobotocore request building and signing (~45%), a new TCP connection "
        "per request because moto closes each one (~18%), botocore's event hooks (~12%). "
        "The raw ceiling (16 threads of bare boto3 PUTs) is itself only ~1.5 x rclone here, "
        "so ≥ 1.5 x rclone means reaching the ceiling. **Would close it:** spreading the "
        "PUTs over more than one event loop/process (the backfill's Dask partitions, or a "
        "`--processes N` local mode), or sync botocore clients per worker thread for "
        "small PUTs; on a server where connections are kept alive the TCP share vanishes."
    ),
    "S4 backfill small objects (router ÷ raw": (
        "See the rclone row: the router's client is bound by s3fs's single event-loop "
        "thread, the ceiling by 16 threads of sync botocore."
    ),
    "S4 backfill small objects: HTTP": (
        "Requests per object include the listing pages (one `GET list` per 1,000 keys); in "
        "a --quick run with few objects, that one listing is a larger share."
    ),
    "S4 backfill": (
        "8 MiB objects: rclone's Go client starts in milliseconds and hashes and sends on "
        "both cores. The router copies each object with one PUT (Content-MD5, ETag checked: "
        "1 request per object), but (1) process start-up (imports of pydantic, s3fs, "
        "aiobotocore…) is ~0.4 s of a ~1.6 s run; (2) every PUT of the process goes through "
        "s3fs's one event-loop thread, which py-spy shows busy with aiohttp copying the 8 "
        "MiB body (`BytesIOPayload.__init__`), SigV4's SHA-256 of the payload (botocore "
        "signs payloads over plain http; over https S3 gets UNSIGNED-PAYLOAD) and botocore's "
        "CRC32, while the 8 workers wait; (3) MD5 of each object (~22 ms per 8 MiB here) in "
        "the workers. Client CPU: router 1.3 s vs rclone 0.6 s. Proposal 2 (CRC32 off) "
        "was measured in the same run and changes nothing measurable, so the CRC32 is not "
        "the bottleneck. Peak RSS (~275 MiB) is 8 workers x (eight 1 MiB reads + the joined "
        "8 MiB + aiohttp's copy). **Would close it:** PUT large objects from the worker "
        "threads with sync botocore clients (hashing and copies then use both cores: "
        "hashlib releases the GIL), read each file into one buffer instead of joining 1 MiB "
        "chunks, and lazy imports in the CLI; even then Python's per-byte hashing keeps it "
        "near, not above, rclone on 2 cores."
    ),
    "S5 peak RSS": (
        "The router streams through one S3 multipart part of 8 MiB at a time (s3fs with "
        "`max_concurrency: 1`); a dual-write adds the spill queue's 16 MiB in memory."
    ),
    "S6 metrics": (
        "Metrics on cost ~1 µs per op on a ~15 µs op: the executor's two clock reads, the "
        "histogram bucket (a log2), a lock, a dict lookup and the listener/structlog "
        "checks in `Metrics.call`. Under the 5% limit would need ≤ 0.7 µs: e.g. no lock on "
        "the hot path (per-thread cells merged on snapshot) and the cell looked up once per "
        "(route, backend, op, outcome) through a cached key object. Note that proposal 1 "
        "makes the read itself faster, which raises this ratio for the same µs."
    ),
}
