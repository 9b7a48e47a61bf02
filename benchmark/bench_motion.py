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
from pathlib import Path

import numpy as np

from occpose.config import load_config
from occpose.motion import ACTIONS, generate_motion

_QUICK = load_config(Path(__file__).resolve().parents[1] / "scenes" / "quick.toml")
SUBJECTS = tuple(_QUICK.subject(name) for name in _QUICK.subjects)  # S1-S5 of scenes/subjects.toml


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
