"""Run ``occpose-bench`` and kill it (SIGKILL, no clean-up) at its N-th file rename.

Every occpose writer finishes a file by renaming a temporary over it (``os.replace``), so the
renames are the points where a crash is interesting: ``before`` kills just before the N-th
rename (its temporary is written), ``after`` just after it. Used by ``tests/test_crash.py``::

    python -m tests.crash_hook N before|after -- generate --config ... --out ...

Exit status: -9 (killed) when the command made at least N renames, else the command's own.
"""

from __future__ import annotations

import os
import signal
import sys


def install(n: int, when: str) -> None:
    real = os.replace
    count = [0]

    def replace(src, dst, *a, **k):
        count[0] += 1
        if count[0] == n and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = real(src, dst, *a, **k)
        if count[0] == n and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    os.replace = replace


def main(argv: list[str]) -> int:
    n, when, sep, *rest = argv
    assert sep == "--" and when in ("before", "after")
    install(int(n), when)
    from occpose.cli import main as cli

    return cli(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
