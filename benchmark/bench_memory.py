"""Peak memory (resident set) of ``occpose-bench run`` and of its stages, one child process each.

Usage (from the repository root):

    .venv/bin/python benchmark/bench_memory.py                    # the README's quick run
    .venv/bin/python benchmark/bench_memory.py --set "benchmark.actions=['walk']" --set train.epochs=1

Runs ``occpose-bench run --preset quick`` (plus ``--set`` overrides) in a fresh output folder as a
child process and prints its wall time, peak resident set size (``getrusage(RUSAGE_CHILDREN)``:
the largest of the process and its descendants, not their sum) and the ratio to the 2 GiB target
of issue 16. The stage times are those the run prints. Absolute times on a loaded machine are
inflated; the memory figure is not.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_GIB = 2.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="quick")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", help="output folder (default: a temporary folder, removed)")
    p.add_argument("--extra", default="", help="more arguments for `run`, e.g. '--backend analytic'")
    args = p.parse_args(argv)
    exe = Path(sys.executable).with_name("occpose-bench")
    with tempfile.TemporaryDirectory(prefix="occpose-bench-memory-") as tmp:
        out = args.out or str(Path(tmp) / "run")
        cmd = [str(exe), "run", "--preset", args.preset, "--out", out]
        cmd += [x for kv in args.overrides for x in ("--set", kv)] + args.extra.split()
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {' '.join(cmd)}",
              flush=True)
        t0 = time.perf_counter()
        code = subprocess.call(cmd)
        wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2 ** 20  # KiB -> GiB
    print(f"exit status {code}, wall {wall:.0f} s, peak RSS {peak:.2f} GiB "
          f"({peak / TARGET_GIB:.2f} x the {TARGET_GIB:.0f} GiB target)")
    return code


if __name__ == "__main__":
    sys.exit(main())
