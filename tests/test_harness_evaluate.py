"""Evaluation: metric pooling, flip averaging, results files, grouping runs over seeds."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from occpose import metrics
from occpose.errors import OccposeError
from occpose.harness import RunSettings, evaluate_runs, train_model
from occpose.harness.data import flip_poses, prepare
from occpose.harness.evaluate import joint_errors, run_labels, split_masks
from occpose.harness.inference import build_eval_model, predict_sequence
from occpose.harness.toy import toy_sequences
from occpose.skeleton import H36M_17


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    seqs = toy_sequences(subjects=("S1",), actions=("walk", "box"), levels=(0.0, 0.4), frames=30)
    return [s for s in seqs if s.split == "train"], [s for s in seqs if s.split == "test"]


@pytest.fixture(scope="module")
def runs(data, tmp_path_factory):
    train, _ = data
    root = tmp_path_factory.mktemp("runs")
    dirs = []
    for model, seed in (("tcn", 0), ("tcn", 1), ("tcn-occseq", 0), ("linear", 0)):
        s = RunSettings(model=model, seed=seed, epochs=1, batch_size=32, channels=16,
                        filter_widths=[3, 3])
        train_model(train, None, s, root / f"{model}-{seed}", progress=False)
        dirs.append(root / f"{model}-{seed}")
    return dirs


def test_joint_errors_pool_to_the_metric_functions():
    rng = np.random.default_rng(0)
    target = metrics.root_relative(rng.normal(size=(20, 17, 3)))
    pred = metrics.root_relative(target + 0.05 * rng.normal(size=target.shape))
    occ = rng.random((20, 17)) < 0.3
    oof = rng.random((20, 17)) < 0.1
    by_body = occ & (rng.random((20, 17)) < 0.5)
    err = joint_errors(pred, target)
    masks = split_masks(occ, oof, by_body, occ & ~by_body)
    for split, mask in masks.items():
        assert err["mpjpe"][mask].mean() == pytest.approx(1000 * metrics.mpjpe(pred, target, mask))
        assert err["p_mpjpe"][mask].mean() == pytest.approx(1000 * metrics.p_mpjpe(pred, target, mask))
        assert err["n_mpjpe"][mask].mean() == pytest.approx(1000 * metrics.n_mpjpe(pred, target, mask))
        vmask = mask[1:] & mask[:-1]
        assert err["mpjve"][vmask].mean() == pytest.approx(1000 * metrics.mpjve(pred, target, mask))
    assert not (masks["visible"] & masks["occluded"]).any()
    assert not ((masks["visible"] | masks["occluded"]) & oof).any()
    assert (masks["occluded_by_body"] | masks["occluded_by_object"] == masks["occluded"]).all()
    assert not split_masks(occ, oof)["occluded_by_body"].any()          # no labels: empty


def test_flip_averaging(data):
    _, test = data
    torch.manual_seed(0)
    settings = RunSettings(model="tcn", channels=16, filter_widths=[3, 3])
    model = build_eval_model(settings, 17).eval()
    p = prepare(test[:1], settings)[0]
    cpu = torch.device("cpu")
    plain = predict_sequence(model, p, H36M_17, cpu)
    assert plain.shape == p.poses.shape                                 # one pose per frame
    mirrored = type(p)(**{**p.__dict__, "keypoints": flip_poses(p.keypoints, H36M_17)})
    unflipped = flip_poses(predict_sequence(model, mirrored, H36M_17, cpu), H36M_17)
    both = predict_sequence(model, p, H36M_17, cpu, flip=True)
    np.testing.assert_allclose(both, (plain + unflipped) / 2, atol=1e-5)
    # flip averaging makes the model exactly mirror-equivariant
    both_m = predict_sequence(model, mirrored, H36M_17, cpu, flip=True)
    np.testing.assert_allclose(flip_poses(both_m, H36M_17), both, atol=1e-5)


def test_evaluate_writes_results(data, runs, tmp_path):
    _, test = data
    res = evaluate_runs(test, runs, tmp_path / "res", progress=False)
    names = {"results.json", "results.csv", "report.md", "mpjpe_by_level.png", "per_joint.png",
             "skeletons_high_occlusion.png", "learning_curves.png"}
    assert names <= {p.name for p in (tmp_path / "res").iterdir()}
    assert not list((tmp_path / "res").glob(".*.tmp"))
    doc = json.loads((tmp_path / "res" / "results.json").read_text())
    assert doc["levels"] == ["0.00", "0.40", "all"] and doc["actions"] == ["box", "walk", "all"]
    assert set(doc["models"]) == {"tcn", "tcn-occseq", "linear"}
    tcn = doc["models"]["tcn"]
    assert tcn["seeds"] == [0, 1]
    for lv in doc["levels"]:
        for metric in ("mpjpe", "p_mpjpe", "n_mpjpe", "mpjve"):
            for split in doc["splits"]:
                st = tcn["by_level"][lv][metric][split]
                assert set(st) == {"mean", "std", "min", "max", "n", "ci_low", "ci_high"}
                if st["n"] == 0:            # e.g. no joint hidden by an object at level 0
                    assert split.startswith("occluded") and st["mean"] is None
                    assert st["ci_low"] is None and st["ci_high"] is None
                    continue
                assert st["n"] == 2 and st["min"] <= st["mean"] <= st["max"] and st["std"] >= 0
                assert st["ci_low"] <= st["ci_high"]
    # the model mean is the mean of its runs
    per_run = [r["by_level"]["0.40"]["mpjpe"]["occluded"] for r in doc["runs"] if r["model"] == "tcn"]
    assert tcn["by_level"]["0.40"]["mpjpe"]["occluded"]["mean"] == pytest.approx(np.mean(per_run), abs=1e-3)
    assert set(tcn["by_joint"]) == set(H36M_17.joint_names) | {"all"}
    assert [r["flip"] for r in doc["runs"]] == [True, True, True, False]
    assert res["models"].keys() == doc["models"].keys()
    with open(tmp_path / "res" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["model", "seed", "level", "action", "joint", "metric", "split", "value"]
    assert len(rows) == 4 * 3 * 3 * 4 * 5 * 18
    diff = doc["differences"]["linear"]
    assert diff["minus"] == "tcn" and set(doc["differences"]) == {"tcn-occseq", "linear"}
    d = diff["by_level"]["all"]["mpjpe"]["all"]
    linear, tcn_all = doc["models"]["linear"]["by_level"]["all"]["mpjpe"]["all"], tcn["by_level"]["all"]["mpjpe"]["all"]
    assert d["estimate"] == pytest.approx(linear["mean"] - tcn_all["mean"], abs=2e-4)
    assert d["ci_low"] <= d["estimate"] <= d["ci_high"] and isinstance(d["verdict"], str)
    md = (tmp_path / "res" / "report.md").read_text()
    assert "## MPJPE by occlusion level" in md and "Visible vs occluded" in md and "± " in md
    assert "## Paired differences" in md
    # learning curves: every run's per-epoch training metrics, as its checkpoint recorded them
    for r in doc["runs"]:
        logged = [json.loads(x) for x in (Path(r["run"]) / "metrics.jsonl").read_text().splitlines()]
        assert [c["epoch"] for c in r["curve"]] == [m["epoch"] for m in logged] == list(range(1, r["epochs"] + 1))
        for c, m in zip(r["curve"], logged):
            assert c["train_mpjpe_mm"] == pytest.approx(m["train_mpjpe_mm"], abs=1e-3)
            assert ("val_mpjpe_mm" in c) == ("val_mpjpe_mm" in m)
    assert "## Learning curves" in md and "### tcn-occseq" in md
    first = [r["curve"][0]["train_mpjpe_mm"] for r in doc["runs"] if r["model"] == "tcn"]
    row = md.split("### tcn\n")[1].split("\n| 1 |")[1].split("\n")[0]
    assert row.startswith(f" {np.mean(first):.1f} ({min(first):.1f}–{max(first):.1f})")


def test_run_labels_tell_apart_settings():
    a = RunSettings(model="tcn-occ1", occlusion_labels="truth")
    b = RunSettings(model="tcn-occ1", occlusion_labels="boxed", seed=1)
    c = RunSettings(model="tcn", seed=2)
    assert run_labels([a, b, c]) == ['tcn-occ1[occlusion_labels="truth"]',
                                     'tcn-occ1[occlusion_labels="boxed"]', "tcn"]
    assert run_labels([a, RunSettings(model="tcn-occ1", seed=5)]) == ["tcn-occ1", "tcn-occ1"]


def test_bad_runs(data, runs, tmp_path):
    _, test = data
    with pytest.raises(OccposeError, match="not a training run"):
        evaluate_runs(test, [tmp_path], tmp_path / "res", progress=False)
    with pytest.raises(OccposeError, match="both tcn with seed 0"):
        evaluate_runs(test, [runs[0], runs[0]], tmp_path / "res", progress=False)
    (tmp_path / "norun").mkdir()
    (tmp_path / "norun" / "settings.json").write_text((runs[0] / "settings.json").read_text())
    with pytest.raises(OccposeError, match="no checkpoint"):
        evaluate_runs(test, [tmp_path / "norun"], tmp_path / "res", progress=False)


def test_run_labels_tell_noise_and_detector_inputs_apart():
    from occpose.harness.evaluate import run_labels
    from occpose.harness.settings import RunSettings

    noise = RunSettings(model="tcn", seed=0)
    detector = RunSettings(model="tcn", seed=0, keypoints2d="detector:runs/img")
    assert run_labels([noise, detector]) == ['tcn[keypoints2d="noise"]',
                                             'tcn[keypoints2d="detector:runs/img"]']
