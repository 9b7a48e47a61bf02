"""Tests for occpose.occlusion.agreement.scoring and the ``occpose-bench labels`` command."""

import json
import math

import numpy as np
import pytest

from occpose.camera import camera_to_world, project_to_2d
from occpose.cli import main
from occpose.config import config_from_dict
from occpose.dataset import BenchmarkWriter, SequenceEntry, sequence_id
from occpose.occlusion.agreement.scoring import (Confusion, accuracy, confusion, f1_score, precision,
                                         recall)
from occpose.occlusion.heuristics.labels import heuristic_labels

T = 4
LWRIST, RWRIST, LFOOT, RFOOT, HIP = 13, 16, 6, 3, 0
STAND = np.array([
    [0.00, 0.00, 4.0], [-0.12, 0.00, 4.0], [-0.12, 0.45, 4.0], [-0.12, 0.90, 4.0],
    [0.12, 0.00, 4.0], [0.12, 0.45, 4.0], [0.12, 0.90, 4.0],
    [0.00, -0.25, 4.0], [0.00, -0.50, 4.0], [0.00, -0.60, 3.92], [0.00, -0.75, 4.0],
    [0.18, -0.50, 4.0], [0.20, -0.22, 4.0], [0.20, 0.02, 4.0],
    [-0.18, -0.50, 4.0], [-0.20, -0.22, 4.0], [-0.20, 0.02, 4.0],
])


# ---- metric helpers -----------------------------------------------------------------------------

def test_confusion_and_metrics_exact():
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 1], dtype=bool)
    pred = np.array([1, 1, 0, 1, 0, 0, 0, 1], dtype=bool)
    mask = np.array([1, 1, 1, 1, 1, 1, 1, 0], dtype=bool)          # the last joint is excluded
    c = confusion(pred, truth, mask)
    assert c == Confusion(tp=2, fp=1, fn=1, tn=3) and c.n == 7
    assert precision(c) == pytest.approx(2 / 3)
    assert recall(c) == pytest.approx(2 / 3)
    assert f1_score(c) == pytest.approx(2 / 3)
    assert accuracy(c) == pytest.approx(5 / 7)
    assert confusion(pred, truth) == Confusion(tp=3, fp=1, fn=1, tn=3)


def test_zero_denominators_are_nan():
    nothing = Confusion(tp=0, fp=0, fn=0, tn=5)                   # no positives anywhere
    assert math.isnan(precision(nothing)) and math.isnan(recall(nothing))
    assert math.isnan(f1_score(nothing)) and accuracy(nothing) == 1.0
    missed = Confusion(tp=0, fp=0, fn=4, tn=1)                    # flags nothing, misses all
    assert math.isnan(precision(missed)) and recall(missed) == 0.0 and f1_score(missed) == 0.0
    assert math.isnan(accuracy(Confusion(0, 0, 0, 0)))
    d = missed.to_dict()
    assert d["n"] == 5 and math.isnan(d["precision"]) and d["f1"] == 0.0


# ---- a tiny benchmark ---------------------------------------------------------------------------

def _config():
    return config_from_dict({
        "benchmark": {"name": "tiny", "frames": T, "actions": ["walk", "box"], "levels": [0.0, 0.2],
                      "train_subjects": ["S1"], "test_subjects": ["S2"]},
        "subjects": {"S1": {"height": 1.7}, "S2": {"height": 1.8}},
        "cameras": [{"name": "cam0", "position": [3.6, 3.4, 1.6]}],
    })


def _arrays(cfg, joints_cam, labels: dict) -> dict:
    """Valid sequence arrays around ``joints_cam`` (T, 17, 3); ``labels`` override the bool ones."""
    cam = cfg.camera_objects()[0]
    zeros = np.zeros(joints_cam.shape[:2], dtype=bool)
    a = {"occluded_by_body": zeros, "occluded_by_object": zeros, "out_of_frame": zeros,
         "occluded_clustered": zeros, "occluded_boxed": zeros, "occluded_boxed_depth": zeros}
    a.update(labels)
    occluded = a["occluded_by_body"] | a["occluded_by_object"]
    return {
        "joints_3d_world": camera_to_world(joints_cam, cam).astype(np.float32),
        "joints_3d_cam": joints_cam.astype(np.float32),
        "joints_2d": project_to_2d(joints_cam, cam).astype(np.float32),
        "visibility": np.where(occluded, 0.0, 1.0).astype(np.float32),
        "occluded": occluded,
        "occluder_fraction": a["occluded_by_object"].mean(axis=1).astype(np.float32),
        "self_occlusion_fraction": a["occluded_by_body"].mean(axis=1).astype(np.float32),
        **a,
    }


def _write(root, cfg, sequences) -> None:
    """sequences: list of (subject, action, level, arrays)."""
    writer = BenchmarkWriter(root, cfg)
    ids = []
    for subject, action, level, arrays in sequences:
        sid = sequence_id(subject, action, "cam0", level)
        writer.write_sequence(SequenceEntry(
            id=sid, subject=subject, action=action, camera="cam0",
            split="train" if subject == "S1" else "test", target_level=level, frames=T, path="",
            sha256=""), arrays)
        ids.append(sid)
    assert writer.finalize(ids)["status"] == "complete"


def _mask(joints, frames=range(T)) -> np.ndarray:
    m = np.zeros((T, 17), dtype=bool)
    for j in np.atleast_1d(joints):
        m[list(frames), j] = True
    return m


@pytest.fixture
def handmade(tmp_path):
    """Three sequences with hand-set truth and heuristic labels (counts worked out below)."""
    cfg = _config()
    pose = np.repeat(STAND[None], T, axis=0)
    seq_a = _arrays(cfg, pose, {                                  # S1 walk, level 0
        "occluded_by_body": _mask([LWRIST, RFOOT]),
        "out_of_frame": _mask(RFOOT),                             # excluded from every count
        "occluded_clustered": _mask([LWRIST, RFOOT]),
        "occluded_boxed": _mask(RFOOT),
        "occluded_boxed_depth": _mask(LWRIST, [0, 1]) | _mask(RWRIST, [0]) | _mask(RFOOT)})
    seq_b = _arrays(cfg, pose, {                                  # S1 box, level 0.2
        "occluded_by_body": _mask(LWRIST), "occluded_by_object": _mask(LFOOT),
        "occluded_clustered": _mask(LWRIST), "occluded_boxed": _mask([LWRIST, HIP])})
    seq_c = _arrays(cfg, pose, {                                  # S2 walk, level 0.2 (test)
        "occluded_by_object": _mask(LFOOT, [0, 1])})
    root = tmp_path / "bench"
    _write(root, cfg, [("S1", "walk", 0.0, seq_a), ("S1", "box", 0.2, seq_b),
                       ("S2", "walk", 0.2, seq_c)])
    return root


def _counts(stats: dict) -> tuple:
    return stats["tp"], stats["fp"], stats["fn"], stats["tn"]


def test_labels_cli_report(handmade, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["labels", str(handmade), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "clustered" in stdout and "boxed_depth" in stdout and "F1" in stdout
    assert (out / "agreement.md").read_text().startswith("# Occlusion heuristics")
    assert (out / "agreement_f1_by_level.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*.tmp"))
    r = json.loads((out / "agreement.json").read_text())

    # 3 sequences x 4 frames x 17 joints, 4 out of frame
    sizes = (r["sequences"], r["frames"], r["joints_evaluated"], r["joints_out_of_frame"])
    assert sizes == (3, 12, 200, 4)
    ov = r["overall"]
    assert _counts(ov["clustered"]) == (8, 0, 6, 186)
    assert _counts(ov["boxed"]) == (4, 4, 10, 182)
    assert _counts(ov["boxed_depth"]) == (2, 1, 12, 185)
    assert ov["clustered"]["precision"] == 1.0
    assert ov["clustered"]["recall"] == pytest.approx(8 / 14)
    assert ov["boxed"]["f1"] == pytest.approx(8 / 22)
    assert ov["boxed_depth"]["accuracy"] == pytest.approx(187 / 200)
    # self- vs object occlusion: 8 self-occluded, 6 object-occluded evaluated joints
    assert ov["clustered"]["recall_self"] == 1.0 and ov["clustered"]["recall_object"] == 0.0
    assert (ov["boxed"]["n_self"], ov["boxed"]["n_object"]) == (8, 6)
    assert ov["boxed"]["recall_self"] == 0.5
    assert _counts(r["self_occlusion_truth"]["clustered"]) == (8, 0, 0, 186)
    assert r["self_occlusion_truth"]["clustered"]["f1"] == 1.0
    assert ov["clustered"]["f1_self_truth"] == 1.0
    # level 0 is sequence A only; boxed flags nothing valid there: precision 0/0 -> null
    assert _counts(r["level0"]["clustered"]) == (4, 0, 0, 60)
    assert _counts(r["level0"]["boxed"]) == (0, 0, 4, 60)
    assert r["level0"]["boxed"]["precision"] is None
    assert r["level0"]["boxed"]["recall_object"] is None          # no object occlusion at level 0
    assert r["by_level"]["0"]["clustered"] == r["level0"]["clustered"]
    assert _counts(r["by_level"]["0.2"]["clustered"]) == (4, 0, 6, 126)
    assert set(r["by_action"]) == {"walk", "box"}
    assert _counts(r["by_action"]["box"]["boxed"]) == (4, 4, 4, 56)
    assert len(r["by_joint"]) == 17
    assert _counts(r["by_joint"]["LWrist"]["clustered"]) == (8, 0, 0, 4)
    assert r["by_joint"]["RFoot"]["clustered"]["n"] == 8          # 4 out-of-frame frames excluded
    assert "sweep" not in r


def test_labels_cli_split_and_default_out(handmade, capsys):
    assert main(["labels", str(handmade), "--split", "test"]) == 0
    r = json.loads((handmade / "reports" / "labels" / "agreement.json").read_text())
    assert r["split"] == "test" and r["sequences"] == 1 and r["level0"] is None
    assert _counts(r["overall"]["clustered"]) == (0, 0, 2, 66)
    assert "No level-0 sequences" in (handmade / "reports" / "labels" / "agreement.md").read_text()


def test_labels_sweep(tmp_path, capsys):
    cfg = _config()
    cam = cfg.camera_objects()[0]
    rng = np.random.default_rng(0)
    seqs = []
    for subject, action, level in (("S1", "walk", 0.0), ("S1", "box", 0.2), ("S2", "walk", 0.2)):
        pose = STAND[None] + rng.normal(scale=0.06, size=(T, 17, 3))
        truth = rng.random((T, 17)) < 0.3
        body = truth & ((rng.random((T, 17)) < 0.5) if level else True)
        seqs.append((subject, action, level, _arrays(cfg, pose, {
            "occluded_by_body": body, "occluded_by_object": truth & ~body,
            **heuristic_labels(pose, project_to_2d(pose, cam), cam, cfg.heuristics)})))
    root = tmp_path / "bench"
    _write(root, cfg, seqs)
    assert main(["labels", str(root), "--sweep"]) == 0
    stdout = capsys.readouterr().out
    assert "sweep boxed: best delta" in stdout
    sweep = json.loads((root / "reports" / "labels" / "agreement.json").read_text())["sweep"]
    assert set(sweep) == {"clustered_camera", "clustered_normalized", "boxed", "boxed_depth"}
    for entry in sweep.values():
        assert len(entry["values"]) == len(entry["f1"]) >= 10
        assert entry["best"]["value"] in entry["values"]
        assert isinstance(entry["best"]["at_grid_edge"], bool)
        assert entry["best"]["f1"] == max(f for f in entry["f1"] if f is not None)
    # the configured parameters reproduce the stored labels exactly
    assert sweep["clustered_camera"]["configured"]["value"] == 0.06
    assert sweep["clustered_normalized"]["configured"] is None
    for name in ("clustered_camera", "boxed", "boxed_depth"):
        assert sweep[name]["configured"]["matches_stored"] == 1.0
    assert "## Parameter sweep" in (root / "reports" / "labels" / "agreement.md").read_text()


def test_missing_heuristic_array_is_a_clean_error(tmp_path, capsys):
    cfg = _config()
    arrays = _arrays(cfg, np.repeat(STAND[None], T, axis=0), {})
    del arrays["occluded_boxed_depth"]
    root = tmp_path / "bench"
    _write(root, cfg, [("S1", "walk", 0.0, arrays)])
    assert main(["labels", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "occluded_boxed_depth" in err and err.startswith("occpose-bench labels: error:")


def test_not_a_benchmark_is_a_clean_error(tmp_path, capsys):
    assert main(["labels", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "manifest.json" in err
