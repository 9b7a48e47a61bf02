"""Size a test split from measured between-clip variances (how scenes/standard.toml was sized).

    occpose-bench generate --config scenes/quick.toml --out bench/quick
    occpose-bench train --data bench/quick --model tcn --out runs/tcn
    occpose-bench train --data bench/quick --model tcn-occ1 --out runs/tcn-occ1
    occpose-bench evaluate --data bench/quick --runs runs/tcn runs/tcn-occ1 --out results/sizing
    python benchmark/size_standard.py results/sizing/results.json --target 1.0 --clips 48

For every paired difference in results.json (each model minus the first) and every level: the
95% half-width measured with the split's n clips (independent (subject, action) motion clips;
intervals: occpose.stats), the clips needed for ``--target`` mm (the half-width of a mean over
clips shrinks as 1/sqrt(clips)), and, at ``--clips`` clips, the expected half-width and the
minimum detectable difference (two-sided 5% test with 80% power: (1.96 + 0.84) x SE, SE =
half-width / 1.96). With few measured clips the half-widths are themselves rough (+-20% or more).
"""

from __future__ import annotations

import argparse
import json
import math


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", help="results.json of evaluate (two or more models)")
    ap.add_argument("--target", type=float, default=1.0, help="wanted half-width, mm (default 1)")
    ap.add_argument("--clips", type=int, default=0, help="clips of a planned split (default: none)")
    ap.add_argument("--metric", default="mpjpe")
    args = ap.parse_args()
    res = json.loads(open(args.results, encoding="utf-8").read())
    n = res["intervals"]["clusters"]
    print(f"{args.results}: {n} clips measured; target half-width {args.target} mm")
    head = f"{'difference':<28} {'level':>6} {'diff':>7} {'half-width':>10} {'clips needed':>12}"
    if args.clips:
        head += f" {'hw@' + str(args.clips):>8} {'MDD@' + str(args.clips):>8}"
    print(head)
    worst = 0.0
    for name, d in res["differences"].items():
        for lv, cell in d["by_level"].items():
            c = cell[args.metric]["all"]
            if c["ci_low"] is None:
                continue
            hw = (c["ci_high"] - c["ci_low"]) / 2
            need = math.ceil(n * (hw / args.target) ** 2)
            worst = max(worst, need) if lv != "all" else worst
            line = f"{name + ' - ' + d['minus']:<28} {lv:>6} {c['estimate']:>+7.2f} {hw:>10.2f} {need:>12d}"
            if args.clips:
                hw_new = hw * math.sqrt(n / args.clips)
                line += f" {hw_new:>8.2f} {hw_new / 1.96 * 2.80:>8.2f}"
            print(line)
    print(f"clips needed for every per-level difference: {int(worst)}")


if __name__ == "__main__":
    main()
