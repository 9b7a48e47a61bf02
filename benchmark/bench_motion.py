"""Speed of procedural motion generation (clips and frames per second, per action).

Usage:
    .venv/bin/python benchmark/bench_motion.py
    .venv/bin/python benchmark/bench_motion.py --frames 3000 --repeats 5 --fps 100

Generates every action for the five subjects of ``scenes/subjects.toml`` (S1-S5), ``--repeats``
times with different seeds, and reports the wall time per clip and the frames per second.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from occpose.motion import ACTIONS, generate_motion
from occpose.subjects import Subject

SUBJECTS = (
    Subject("S1", 1.55, leg=0.97, arm=1.00, shoulder=0.94, hip=1.06, build=0.95),
    Subject("S2", 1.68, leg=1.03, arm=0.97, shoulder=1.00, hip=1.00, build=1.08),
    Subject("S3", 1.81, leg=1.00, arm=1.04, shoulder=1.06, hip=0.95, build=1.00),
    Subject("S4", 1.63, leg=1.04, arm=1.02, shoulder=0.97, hip=1.04, build=1.12),
    Subject("S5", 1.95, leg=0.98, arm=0.99, shoulder=1.08, hip=0.97, build=0.92),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500, help="frames per clip")
    parser.add_argument("--fps", type=float, default=50.0)
    parser.add_argument("--repeats", type=int, default=3, help="seeds per (subject, action)")
    args = parser.parse_args()

    generate_motion("walk", SUBJECTS[0], 10, args.fps, np.random.default_rng(0))   # warm up
    total = 0.0
    print(f"{'action':<12} {'ms/clip':>8} {'frames/s':>10}")
    for action in ACTIONS:
        start = time.perf_counter()
        for seed in range(args.repeats):
            for subject in SUBJECTS:
                generate_motion(action, subject, args.frames, args.fps,
                                np.random.default_rng(seed))
        elapsed = time.perf_counter() - start
        total += elapsed
        clips = args.repeats * len(SUBJECTS)
        print(f"{action:<12} {1000 * elapsed / clips:8.2f} {clips * args.frames / elapsed:10.0f}")
    n = args.repeats * len(SUBJECTS) * len(ACTIONS)
    print(f"{n} clips of {args.frames} frames in {total:.3f} s "
          f"({n * args.frames / total:.0f} frames/s)")


if __name__ == "__main__":
    main()
