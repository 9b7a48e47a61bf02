"""95% intervals in the labels agreement tables and the image-model ablation table."""

import numpy as np
import pytest

from occpose.dataset import open_benchmark
from occpose.harness.toy import write_toy_benchmark
from occpose.image.evaluate import ablation_table
from occpose.occlusion.agreement.scoring import agreement_report, render_markdown


def test_agreement_report_has_intervals(tmp_path):
    bench = open_benchmark(write_toy_benchmark(tmp_path / "b", subjects=("S1",), actions=("walk", "box"),
                                               levels=(0.0, 0.3), frames=20, test_subjects=("S4", "S5")))
    report = agreement_report(bench)
    for block in (report["overall"], report["by_level"]["0.3"], report["by_joint"][bench.skeleton.joint_names[3]],
                  report["self_occlusion_truth"]):
        for h, s in block.items():
            for k in ("precision", "recall", "f1", "accuracy"):
                lo, hi = s[f"{k}_ci"]
                if s[k] == s[k]:
                    assert 0 <= lo <= hi <= 1, (h, k)
    lo, hi = report["overall"]["clustered"]["f1_ci"]
    assert lo < report["overall"]["clustered"]["f1"] < hi
    again = agreement_report(bench)
    assert again["overall"]["boxed"]["f1_ci"] == report["overall"]["boxed"]["f1_ci"]    # seeded
    swept = agreement_report(bench, sweep=True)["sweep"]["boxed"]
    for f1, (lo, hi) in zip(swept["f1"], swept["f1_ci"]):
        assert f1 != f1 or 0 <= lo <= hi <= 1
    md = render_markdown(report)
    f1 = report["overall"]["clustered"]
    assert f"{f1['f1']:.3f} [{f1['f1_ci'][0]:.3f}–{f1['f1_ci'][1]:.3f}]" in md


def _image_result(rng, offset=0.0):
    ids = [f"S4_{a}_cam0_L{l:03d}" for a in ("walk", "box", "jog") for l in (0, 30)]
    levels = [0.0, 0.3] * 3
    n = len(ids)
    counts = np.full(n, 170)
    sums = (rng.normal(60, 10, n) + offset) * counts
    per = {"id": ids, "level": levels, "cluster": [i.split("_")[1] for i in ids],
           "mpjpe_sum": list(sums), "mpjpe_count": list(counts),
           "occluded_sum": list(sums / 10), "occluded_count": list(counts // 10)}
    lv = {"0.0": {"mpjpe": sums[::2].sum() / counts[::2].sum(), "mpjpe_occluded": 60.0,
                  "mpjpe_ci": [50.0, 70.0], "mpjpe_occluded_ci": [55.0, 65.0]},
          "0.3": {"mpjpe": sums[1::2].sum() / counts[1::2].sum(), "mpjpe_occluded": 61.0}}
    return {"levels": lv, "all": {"mpjpe": sums.sum() / counts.sum(), "mpjpe_occluded": 60.5},
            "per_sequence": per}


def test_ablation_table_paired_change_with_interval():
    rng = np.random.default_rng(0)
    a = _image_result(rng)
    table = ablation_table({"p=0": a, "p=0 again": a})
    assert "+0.0 [+0.0, +0.0]" in table and "*" not in table
    assert "[50.0–70.0]" in table
    b = {**a, "per_sequence": {**a["per_sequence"],
                                "mpjpe_sum": [s + 170 * 8.0 for s in a["per_sequence"]["mpjpe_sum"]]}}
    row_all = [r for r in ablation_table({"p=0": a, "p=0.5": b}).splitlines() if r.startswith("| all")][0]
    assert "+8.0 [+8.0, +8.0] *" in row_all
