"""``occpose-bench labels``: how well the 2D occlusion heuristics agree with the ray-cast truth.

Usage::

    occpose-bench labels out/quick                       # report into out/quick/reports/labels
    occpose-bench labels out/quick --split test --sweep --out reports/labels_test

Writes ``agreement.json``, ``agreement.md`` and ``agreement_f1_by_level.png`` (see
:mod:`occpose.occlusion.agreement.scoring`) and prints the overall table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("labels",
                       help="score the clustered and boxed-man heuristics against ray-cast truth",
                       description="Precision, recall, F1 and accuracy of the stored heuristic "
                                   "occlusion labels against the ray-cast truth, overall and by "
                                   "level, action and joint, with self- and object occlusion "
                                   "shown apart. Out-of-frame joints are excluded.")
    p.add_argument("dir", metavar="DIR", help="benchmark directory (holds manifest.json)")
    p.add_argument("--out", metavar="REPORT_DIR", default=None,
                   help="where to write the report (default: DIR/reports/labels)")
    p.add_argument("--sweep", action="store_true",
                   help="recompute the heuristics over grids of epsilon and delta and report F1 "
                        "per value and the best one")
    p.add_argument("--split", choices=("all", "train", "test"), default="all",
                   help="which sequences to score (default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..dataset import open_benchmark
    from ..occlusion.agreement.scoring import agreement_report, format_summary, write_report

    t0 = time.perf_counter()
    bench = open_benchmark(args.dir)
    out = Path(args.out) if args.out else bench.root / "reports" / "labels"
    if not args.out:  # a shared benchmark's reports/ must not lead out of it
        from ..dataset.paths import check_no_escaping_link

        check_no_escaping_link(bench.root, out)
    report = agreement_report(bench, split=None if args.split == "all" else args.split,
                              sweep=args.sweep)
    paths = write_report(report, out)
    print(format_summary(report))
    print(f"wrote {', '.join(str(p) for p in paths.values())} ({time.perf_counter() - t0:.1f} s)")
    return 0
