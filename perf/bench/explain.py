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
        "~1.2 µs for everything the router does per call. The router reads a whole local "
        "object with the builtin `open` (skipping fsspec's `LocalFileOpener`), so what is "
        "left is its own Python: key normalisation, routing, the executor's leg and "
        "metrics (the cProfile table under S1)."
    ),
    "S1 local 4 KiB write (router, fsync: false": (
        "The router's local write is atomic — a temp file renamed over the target, so a "
        "reader never sees a torn or half-written file — where fsspec truncates and "
        "rewrites the file in place. The cProfile table of `router.pipe_file` (fsync: "
        "false) under S1 shows where the time goes: `os.replace` (freeing the replaced "
        "inode) and `os.open` of the new temp file are most of the op; the router's own "
        "Python (routing, key lock, executor, metrics) is ~15 µs of it. The like-for-like "
        "figure is the note under the table (router ÷ the same atomic write by hand, a "
        "few tens of µs apart, mostly in those two system calls, whose cost varies with "
        "the directory and from run to run on this disk). "
        "**Would close it:** only giving up atomic replacement, which would let readers "
        "see torn files — the router keeps it. This target is missed by design."
    ),
    "S1 local 4 KiB write, fsync (default)": (
        "fsync of the file and of its directory dominates (hundreds of µs to milliseconds "
        "on this disk) and varies a lot between calls; the router's own Python is a few "
        "µs of it. Where the 95% interval holds the limit the miss is within noise."
    ),
    "S1 S3": (
        "One S3 call through the router is the same s3fs call plus the router's Python "
        "(key, route, executor, metrics: ~10 µs) on a call of 3-8 ms whose p50 moves by a "
        "few per cent between rounds; where the 95% interval holds the limit the miss is "
        "within noise. The router's S3 reads are one GET (`max_concurrency: 1` in its "
        "default options) where s3fs's own default sends a HEAD first (2 requests, see "
        "the tables' request counts)."
    ),
    "S2 dual-write": (
        "On moto a PUT is CPU at both ends — the `CPU per call` tables under S2 measure "
        "it in this run (about 1 ms of client CPU: botocore's request pipeline on s3fs's "
        "event-loop thread plus a new TCP connection, since moto closes every one; about "
        "2 ms of server CPU) — and a leg is a chain: client, then server, then client. "
        "Two legs from one process cannot overlap their client halves (one GIL; s3fs runs "
        "both on its one event-loop thread), and with two S3 legs three busy processes "
        "(client and two servers) share 2 cores. The row `both legs by hand, "
        "concurrently` (a thread + the caller, no router) is what any implementation in "
        "one process gets with this client: compare it with the slower leg alone; the "
        "router ÷ that row (detail column) is the router's own machinery (pool hand-off, "
        "settle, key lock, metrics). With a local leg the machine has room (CPU floor "
        "well under the slower leg) and the dual-write lands near the target; with two "
        "S3 legs even the by-hand row is far above it. Against a real S3, where a PUT is "
        "mostly waiting on the network, the legs overlap and the max is the floor. "
        "**Would close it on this machine:** less client CPU per S3 request or the legs "
        "in separate processes — not the router's code around the two calls."
    ),
    "S3 fallback": (
        "The router's fallback read is the S3 miss (one GET, 404) plus the local read, plus "
        "its own Python and one stat of the journal directory (the guard against serving a "
        "stale side); see the Δp50."
    ),
    "S4 backfill small objects (router ÷ rclone": (
        "Small objects are bound by the moto server: compare `server CPU ms/object` x "
        "2,000 with each tool's wall time. The router sends 1 request per object (rclone "
        "2: a HEAD and a PUT), and reaches the raw ceiling (16 threads of bare boto3 PUTs) "
        "— nothing in the client holds it back; what separates it from 1.5 x rclone is the "
        "client CPU that shares the 2 cores with the server (`client CPU s`: botocore's "
        "request pipeline, ~0.8 ms per PUT, on the backfill's 8 worker threads) and the "
        "run-to-run spread visible in `wall s (each run)`. **Would close it:** less client "
        "CPU per PUT (botocore's signing and event hooks), or a server that does not close "
        "every connection."
    ),
    "S4 backfill small objects (router ÷ raw": (
        "See the rclone row: both the router and the ceiling are bound by the server's "
        "CPU per request."
    ),
    "S4 backfill small objects: HTTP": (
        "Requests per object include the listing pages (one `GET list` per 1,000 keys); in "
        "a --quick run with few objects, that one listing is a larger share."
    ),
    "S4 backfill": (
        "Start-up, not copying. The detail column splits each tool's time into its no-op "
        "run (start-up + listing: the same tool run again over the complete bucket) and "
        "the rest (moving bytes), with router ÷ rclone on that rest alone: there the "
        "router is level with rclone or ahead (one PUT per object with Content-MD5 and "
        "the ETag checked, from 8 threads whose MD5s run in parallel — hashlib releases "
        "the GIL). The whole gap is the no-op run: a Python process spends ~0.4 s before "
        "its first request where rclone's Go binary spends ~0.05 s, and this job copies "
        "for under half a second. The `S4 start-up` table measures where it goes in this "
        "run: importing the CLI and the policy model (pydantic, structlog with rich, "
        "fsspec) is well over half, importing botocore and building its S3 client most of "
        "the rest (s3fs, aiobotocore and aiohttp are not imported by a backfill any more: "
        "the S3 filesystem is built on first use, which a backfill never makes). "
        "**Would close it:** nothing a Python CLI can do on a 20-object job — botocore "
        "and its client alone take longer than rclone's whole no-op run; trimming the "
        "router's own imports would narrow the gap by tens of ms. On jobs that copy for "
        "longer than they start, the moving-bytes ratio is the one that decides."
    ),
    "S5 peak RSS": (
        "The router streams through one S3 multipart part of 8 MiB at a time (s3fs with "
        "`max_concurrency: 1`); a dual-write adds the spill queue's 16 MiB in memory."
    ),
    "S6 metrics": (
        "Metrics on cost ~0.6 µs per op on a ~12 µs op: the executor's two clock reads, "
        "the histogram bucket (a log2), the cell key tuple and a dict lookup in this "
        "thread's own cells (no lock), and the check for listeners, observers and a "
        "configured structlog. Where the 95% interval holds the limit the figure is "
        "within noise of it."
    ),
}
