"""Agreement with the ray-cast truth of the two readings of each Wang et al. heuristic
(README, "The heuristics as written").

    python benchmark/heuristic_readings.py runs/quick/benchmark [--split test] [--out readings.json]

Recomputes from every selected sequence's stored joints, at the benchmark's configured
``clustered_epsilon``/``clustered_space`` and ``boxed_delta``:

* clustered, ``neighbours`` (the text: a joint and its epsilon-neighbours) vs ``chained``
  (connected components);
* boxed (2D only) and boxed with depth, ``boxed`` (the text: the torso box occludes the spine
  joints) vs ``exempt`` (spine joints exempt).

For each: precision, recall, F1 and accuracy against ``occluded`` (out-of-frame joints left
out), F1 against self-occlusion alone (object-occluded joints left out), and the share of
labels the two readings give differently. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys

from occpose.dataset import open_benchmark
from occpose.occlusion.agreement.scoring import (accuracy, confusion, f1_score, load_label_set,
                                                 precision, recall)
from occpose.occlusion.heuristics.labels import boxed_occlusion_grid, clustered_occlusion_grid


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="benchmark directory")
    ap.add_argument("--split", choices=("all", "train", "test"), default="all")
    ap.add_argument("--out", help="JSON file")
    args = ap.parse_args(argv)

    bench = open_benchmark(args.dir)
    params = dict(bench.config.get("heuristics", {}))
    eps, space = params.get("clustered_epsilon", 0.06), params.get("clustered_space", "camera")
    delta = params.get("boxed_delta", 0.03)
    entries = bench.select() if args.split == "all" else bench.select(split=args.split)
    ls = load_label_set(bench, entries, with_inputs=True)
    x = ls.inputs
    xy = x["xy_camera"] if space == "camera" else x["xy_normalized"]
    labels = {}
    for clusters in ("neighbours", "chained"):
        labels[("clustered", clusters)] = clustered_occlusion_grid(xy, x["depth"], [eps], clusters)[0]
    for spine in ("boxed", "exempt"):
        plain, aware = boxed_occlusion_grid(x["xy_normalized"], [delta], x["depth"], spine=spine)
        labels[("boxed", spine)], labels[("boxed_depth", spine)] = plain[0], aware[0]

    self_valid = ls.valid & ~ls.by_object
    rows = []
    for (heuristic, reading), lab in labels.items():
        c = confusion(lab, ls.truth, ls.valid)
        other = [v for (h, r), v in labels.items() if h == heuristic and r != reading][0]
        rows.append({"heuristic": heuristic, "reading": reading,
                     "text": reading in ("neighbours", "boxed"),
                     "precision": precision(c), "recall": recall(c), "f1": f1_score(c),
                     "accuracy": accuracy(c),
                     "f1_self": f1_score(confusion(lab, ls.by_body, self_valid)),
                     "differs_from_other_reading": float((lab != other)[ls.valid].mean()),
                     "occluded_share": float(lab[ls.valid].mean())})
    n = int(ls.valid.sum())
    print(f"{args.dir} ({args.split}, {ls.sequences} sequences, {n} in-frame joint labels; "
          f"epsilon {eps} ({space}), delta {delta} (normalised screen units)); truth occluded "
          f"{ls.truth[ls.valid].mean():.1%}")
    print("| heuristic | reading | precision | recall | F1 | accuracy | F1 vs self-occlusion | "
          "labels differing from the other reading |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        name = r["reading"] + (" (text)" if r["text"] else "")
        print(f"| {r['heuristic']} | {name} | {r['precision']:.3f} | {r['recall']:.3f} | "
              f"{r['f1']:.3f} | {r['accuracy']:.3f} | {r['f1_self']:.3f} | "
              f"{100 * r['differs_from_other_reading']:.2f}% |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"benchmark": args.dir, "split": args.split, "labels": n,
                       "epsilon": eps, "space": space, "delta": delta, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
