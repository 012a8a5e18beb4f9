"""A small launcher: ``python -S measure.py RESULT_JSON PROGRAM ARGS...``.

Runs the program as its own child and writes its wall time, CPU time and peak RSS
(``ru_maxrss`` from ``wait4``) to RESULT_JSON; exits with the program's exit code.

Why a launcher: Linux carries the RSS high-water mark of the process that forks into
the child's ``ru_maxrss`` (the forked copy of the parent's memory counts until exec).
Forked straight from the benchmark process (hundreds of MiB after a few scenarios),
every child would report at least that. Forked from this launcher (about 10 MiB, no
site packages), the figure is the program's own.
"""

import json
import os
import sys
import time


def main() -> int:
    result, argv = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(result, "w") as f:
        json.dump(
            {
                "rc": code,
                "wall_s": wall,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "peak_rss_mib": usage.ru_maxrss / 1024,
            },
            f,
        )
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
