"""calibrate-noise: the per-state noise fields, the old model bit for bit, recovery of a known
noise model from synthetic detections, outputs and error paths."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from occpose.camera import project_to_2d, world_to_camera
from occpose.cli import main
from occpose.config import NoiseSection, config_from_dict, load_config, read_preset
from occpose.configio import read_toml
from occpose.dataset import BenchmarkWriter, SequenceEntry, open_benchmark, sequence_id
from occpose.dataset.poses import from_benchmark
from occpose.errors import ConfigError
from occpose.harness.calibrate import fit_mixture
from occpose.harness.inputs import detector_noise, joint_states, keypoints_2d
from occpose.occlusion.occluders.geometry import BOX, OccluderSet, rigid_transform

from .test_interop_videopose3d import TEMPLATE

REPO = Path(__file__).resolve().parents[1]
# The model the synthetic detector draws from (dropouts off: a hold is invisible on the
# rendered frames and would only add the one-frame motion).
KNOWN = dict(visible_std=3.0, occluded_std=12.0, outlier_prob=0.1, outlier_std=60.0, dropout_prob=0.0,
             visible_outlier_prob=0.03, visible_outlier_std=40.0,
             body_std=8.0, body_outlier_prob=0.10, body_outlier_std=50.0,
             object_std=15.0, object_outlier_prob=0.20, object_outlier_std=90.0,
             out_of_frame_std=25.0, out_of_frame_outlier_prob=0.15, out_of_frame_outlier_std=120.0)
PER_STATE = {"visible": ("visible_std", "visible_outlier_prob", "visible_outlier_std"),
             "occluded_by_body": ("body_std", "body_outlier_prob", "body_outlier_std"),
             "occluded_by_object": ("object_std", "object_outlier_prob", "object_outlier_std"),
             "out_of_frame": ("out_of_frame_std", "out_of_frame_outlier_prob", "out_of_frame_outlier_std")}


def old_detector_noise(pixels, hidden, width, height, noise, rng):
    """A copy of the five-field model as it was before the per-state fields (the reference)."""
    pixels = np.asarray(pixels, dtype=np.float64)
    t, j = pixels.shape[:2]
    s = width / 1000.0
    base = rng.standard_normal((t, j, 2))
    out_noise = rng.standard_normal((t, j, 2))
    u_outlier = rng.random((t, j))
    u_dropout = rng.random((t, j))
    std = np.where(hidden, noise["occluded_std"], noise["visible_std"]) * s
    out = pixels + base * std[..., None]
    outlier = hidden & (u_outlier < noise["outlier_prob"])
    out = out + outlier[..., None] * out_noise * (noise["outlier_std"] * s)
    dropped = hidden & (u_dropout < noise["dropout_prob"])
    frames = np.where(~dropped, np.arange(t)[:, None], -1)
    last = np.maximum.accumulate(frames, axis=0)
    held = out[np.clip(last, 0, None), np.arange(j)[None, :]]
    fallback = np.broadcast_to(out[:, :1], out.shape)
    replacement = np.where((last >= 0)[..., None], held, fallback)
    out = np.where(dropped[..., None], replacement, out)
    out[..., 0] = np.clip(out[..., 0], 0.0, width)
    out[..., 1] = np.clip(out[..., 1], 0.0, height)
    return out.astype(np.float32), dropped, outlier


@pytest.mark.parametrize("trial", range(6))
def test_without_state_fields_the_output_is_the_old_models_bit_for_bit(trial):
    rng = np.random.default_rng(100 + trial)
    t, j = int(rng.integers(1, 60)), int(rng.integers(1, 20))
    width, height = int(rng.integers(100, 3000)), int(rng.integers(100, 3000))
    px = rng.uniform(-0.2, 1.2, (t, j, 2)) * [width, height]
    hidden = rng.random((t, j)) < rng.random()
    noise = dict(visible_std=float(rng.uniform(0, 10)), occluded_std=float(rng.uniform(0, 30)),
                 outlier_prob=float(rng.choice([0.0, rng.random(), 1.0])),
                 outlier_std=float(rng.uniform(0, 100)), dropout_prob=float(rng.choice([0.0, rng.random()])))
    want = old_detector_noise(px, hidden, width, height, noise, np.random.default_rng(trial))
    states = np.where(hidden, rng.integers(1, 5, (t, j)), 0).astype(np.int8)
    for section in (noise, NoiseSection(**noise)):
        for st in (None, states):
            got = detector_noise(px, hidden, width, height, section, np.random.default_rng(trial), st)
            assert got.pixels.tobytes() == want[0].tobytes()
            np.testing.assert_array_equal(got.dropped, want[1])
            np.testing.assert_array_equal(got.outlier, want[2])


def test_state_fields_fall_back_and_keep_the_draws():
    rng = np.random.default_rng(3)
    t, j = 400, 17
    px = rng.uniform(200, 800, (t, j, 2))
    states = rng.integers(0, 5, (t, j)).astype(np.int8)
    hidden = states != 0
    base = dict(visible_std=3.0, occluded_std=12.0, outlier_prob=0.1, outlier_std=60.0, dropout_prob=0.0)
    old = detector_noise(px, hidden, 1000, 1000, base, np.random.default_rng(0), states)
    # object_std only: object joints change, nobody else does (same draws, same order)
    new = detector_noise(px, hidden, 1000, 1000, dict(base, object_std=24.0), np.random.default_rng(0), states)
    obj = states == 2
    np.testing.assert_array_equal(new.pixels[~obj], old.pixels[~obj])
    np.testing.assert_array_equal(new.outlier, old.outlier)
    e_old, e_new = old.pixels - px, new.pixels - px
    plain = obj & ~old.outlier
    np.testing.assert_allclose(e_new[plain], 2 * e_old[plain], rtol=1e-4, atol=1e-3)
    # visible outliers appear only with visible_outlier_prob
    vis = detector_noise(px, hidden, 1000, 1000, dict(base, visible_outlier_prob=0.5, visible_outlier_std=30.0),
                         np.random.default_rng(0), states)
    assert vis.outlier[states == 0].mean() == pytest.approx(0.5, abs=0.03)
    np.testing.assert_array_equal(vis.outlier[states != 0], old.outlier[states != 0])


def test_joint_states_match_the_hidden_mask(tmp_path):
    make_benchmark(tmp_path / "b", frames=6, levels=(0.3,))
    for seq in from_benchmark(open_benchmark(tmp_path / "b")):
        st = joint_states(seq)
        np.testing.assert_array_equal(st == 3, seq.labels["out_of_frame"])
        np.testing.assert_array_equal(st == 2, seq.labels["occluded_by_object"])
        np.testing.assert_array_equal(st == 1, seq.labels["occluded_by_body"])
        assert set(np.unique(st)) <= {0, 1, 2, 3}


def test_config_fields_validated_documented_and_hash_neutral(tiny_preset, write_preset):
    cfg = load_config(tiny_preset)
    assert set(cfg.to_dict()["train"]["noise"]) == {"visible_std", "occluded_std", "outlier_prob",
                                                    "outlier_std", "dropout_prob"}
    set_cfg = load_config(tiny_preset, ["train.noise.body_std=7.5"])
    assert set_cfg.train.noise.body_std == 7.5 and set_cfg.to_dict()["train"]["noise"]["body_std"] == 7.5
    assert set_cfg.sha256() != cfg.sha256()
    again = config_from_dict(cfg.to_dict(), "again")
    assert again.sha256() == cfg.sha256() and again.train.noise.object_std is None
    with pytest.raises(ConfigError, match="out_of_frame_outlier_prob"):
        load_config(tiny_preset, ["train.noise.out_of_frame_outlier_prob=1.5"])
    with pytest.raises(ConfigError, match="body_std"):
        load_config(tiny_preset, ["train.noise.body_std=-1"])
    doc = (REPO / "docs/presets.md").read_text()
    for name in NoiseSection.__dataclass_fields__:
        assert f"`{name}`" in doc, name


# --------------------------------------------------------------------------- synthetic data
def make_benchmark(root, frames=200, levels=(0.0, 0.3, 0.5), seed=0, rendered=True,
                   subjects=("S1", "S3", "S2"), actions=("walk", "box")):
    """Subjects (the last one: test split) past a box, quick.toml's two cameras, every 2nd frame
    rendered; random exclusive joint states (out of frame ~6 %, body ~12 %, object ~level)."""
    data = read_preset(REPO / "scenes/quick.toml")
    data["benchmark"].update(frames=frames, actions=list(actions), levels=list(levels),
                             train_subjects=list(subjects[:-1]), test_subjects=list(subjects[-1:]))
    cfg = config_from_dict(data, "fake")
    writer = BenchmarkWriter(root, cfg)
    rng = np.random.default_rng(seed)
    ids = []
    for k, (subject, action) in enumerate((s, a) for s in subjects for a in actions):
        t = np.linspace(0, 1, frames)[:, None, None]
        world = TEMPLATE[None] + t * np.array([0.8, 0.3 - 0.15 * k, 0.0]) + np.array([-0.4, 0.0, 0.0])
        world = world.astype(np.float32).astype(np.float64)
        for cam in cfg.camera_objects():
            for lv in levels:
                jc = world_to_camera(world, cam)
                j2 = project_to_2d(jc, cam)
                u = rng.random(j2.shape[:2])
                oof = u < 0.06
                obj = (u >= 0.06) & (u < 0.06 + lv)
                body = (u >= 0.06 + lv) & (u < 0.18 + lv)
                occ = obj | body
                pose = np.repeat(rigid_transform(None, [0.5, 0.2, 0.5])[None, None], frames, 0)
                box = OccluderSet.from_primitives([BOX], [[0.3, 0.2, 0.5]], pose)
                arrays = {"joints_3d_world": world.astype(np.float32), "joints_3d_cam": jc.astype(np.float32),
                          "joints_2d": j2.astype(np.float32),
                          "visibility": np.where(occ, 0.2, 1.0).astype(np.float32),
                          "occluded": occ, "occluded_by_body": body, "occluded_by_object": obj,
                          "out_of_frame": oof, "occluder_fraction": obj.mean(1).astype(np.float32),
                          "self_occlusion_fraction": body.mean(1).astype(np.float32), **box.to_arrays()}
                if rendered:
                    arrays["rendered"] = np.arange(frames) % 2 == 0
                sid = sequence_id(subject, action, cam.name, lv)
                writer.write_sequence(SequenceEntry(
                    id=sid, subject=subject, action=action, camera=cam.name,
                    split="test" if subject == subjects[-1] else "train", target_level=lv, frames=frames,
                    path="", sha256="", achieved_level=float(obj.mean())), arrays)
                ids.append(sid)
    writer.finalize(ids)
    return root


def fake_run(bench_dir, run, noise, seed=1):
    """An 'image run' whose detections are the exact projections plus ``noise``'s model."""
    (run / "keypoints2d").mkdir(parents=True, exist_ok=True)
    for i, seq in enumerate(from_benchmark(open_benchmark(bench_dir))):
        st = joint_states(seq)
        k = detector_noise(seq.joints_2d, st != 0, seq.width, seq.height, noise,
                           np.random.default_rng([seed, i]), st)
        np.save(run / "keypoints2d" / f"{seq.id}.npy", k.pixels)
    return run


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib")
    bench = make_benchmark(root / "bench")
    run = fake_run(bench, root / "run", KNOWN)
    out = root / "out"
    assert main(["calibrate-noise", "--data", str(bench), "--run", str(run), "--out", str(out)]) == 0
    return bench, run, out


def test_recovers_the_known_model(calibrated):
    _, _, out = calibrated
    doc = json.loads((out / "calibration.json").read_text())
    for state, (std_k, prob_k, ostd_k) in PER_STATE.items():
        f = doc["fit"][state]
        assert f["outliers"], state
        assert f["std"] == pytest.approx(KNOWN[std_k], rel=0.08), state
        assert f["outlier_prob"] == pytest.approx(KNOWN[prob_k], abs=0.3 * KNOWN[prob_k] + 0.01), state
        assert f["outlier_std"] == pytest.approx(KNOWN[ostd_k], rel=0.25), state
    # the table is a valid [train.noise] that reproduces the fits
    table = read_toml(out / "noise.toml")["train"]["noise"]
    section = NoiseSection(**table)
    assert section.dropout_prob == 0.0
    assert section.object_std == pytest.approx(doc["fit"]["occluded_by_object"]["std"], rel=1e-3)
    assert table == doc["noise"]
    text = (out / "noise.toml").read_text()
    assert "# command: occpose-bench calibrate-noise --data" in text and "--split train" in text
    # the states' mix explains the level dependence of errors drawn from a per-state model
    for r in doc["by_level"].values():
        low, high = r["measured_mean_radius"][1:]
        assert low < high and r["mix_within_interval"] == (low <= r["states_mix_mean_radius"] <= high)
        assert r["states_mix_mean_radius"] == pytest.approx(r["measured_mean_radius"][0], rel=0.05)
        assert r["simulated_mean_radius"] == pytest.approx(r["measured_mean_radius"][0], rel=0.08)
    means = [r["measured_mean_radius"][0] for r in doc["by_level"].values()]
    assert means == sorted(means)                      # more occluded joints -> larger errors
    # independent draws: no persistence
    for state in PER_STATE:
        corr = doc["persistence"]["measured"][state]["correlation"]
        assert abs(corr[0]) < 0.1 and corr[1] <= corr[0] <= corr[2]
    assert doc["check_split"]["split"] == "test"
    assert (out / "calibration.png").stat().st_size > 1000
    md = (out / "calibration.md").read_text()
    assert "## Fit per joint state" in md and "occluded_by_object" in md


def test_outputs_are_deterministic(calibrated, tmp_path):
    bench, run, out = calibrated
    again = tmp_path / "again"
    assert main(["calibrate-noise", "--data", str(bench), "--run", str(run), "--out", str(again),
                 "--no-plot"]) == 0
    for name in ("noise.toml", "calibration.md"):
        assert (again / name).read_text().replace(str(again), "OUT") == \
               (out / name).read_text().replace(str(out), "OUT")
    a = json.loads((again / "calibration.json").read_text())
    b = json.loads((out / "calibration.json").read_text())
    a.pop("provenance"), b.pop("provenance")
    assert a == b
    assert not (again / "calibration.png").exists()


def test_fit_mixture_single_gaussian_has_no_outliers():
    e = np.random.default_rng(5).standard_normal((20000, 2)) * 7.0
    f = fit_mixture(e)
    assert not f["outliers"] and f["outlier_prob"] == 0.0
    assert f["std"] == pytest.approx(7.0, rel=0.02)
    assert f["bic"] == f["bic_one"] <= f["bic_two"]


def test_fit_mixture_recovers_a_scale_mixture():
    rng = np.random.default_rng(6)
    n = 50000
    wide = rng.random(n) < 0.2
    e = rng.standard_normal((n, 2)) * np.where(wide, math.hypot(5, 40), 5.0)[:, None]
    f = fit_mixture(e)
    assert f["outliers"]
    assert f["std"] == pytest.approx(5.0, rel=0.03)
    assert f["outlier_prob"] == pytest.approx(0.2, abs=0.01)
    assert f["outlier_std"] == pytest.approx(40.0, rel=0.03)


# ------------------------------------------------------------------------------ error paths
def _err(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_error_paths(tmp_path, capsys):
    bench = make_benchmark(tmp_path / "bench", frames=8, levels=(0.0, 0.3))
    run = fake_run(bench, tmp_path / "run", KNOWN)
    out = str(tmp_path / "out")
    args = ["calibrate-noise", "--data", str(bench), "--out", out]
    assert main(args + ["--run", str(tmp_path / "nope")]) == 2
    assert "--run" in _err(capsys)
    (tmp_path / "empty").mkdir()
    assert main(args + ["--run", str(tmp_path / "empty")]) == 2
    assert "keypoints2d" in _err(capsys)
    missing = tmp_path / "missing"
    shutil.copytree(run, missing)
    victim = sorted((missing / "keypoints2d").iterdir())[0]
    victim.unlink()
    assert main(args + ["--run", str(missing)]) == 2
    assert victim.name in _err(capsys)
    # a missing test-split file only skips the check on that split, and says why
    shutil.copy(run / "keypoints2d" / victim.name, victim)
    test_victim = next(p for p in sorted((missing / "keypoints2d").iterdir()) if p.name.startswith("S2_"))
    test_victim.unlink()
    assert main(args + ["--run", str(missing), "--no-plot"]) == 0
    doc = json.loads((Path(out) / "calibration.json").read_text())
    assert test_victim.name in doc["check_split"]["skipped"]
    shutil.rmtree(out)
    plain = make_benchmark(tmp_path / "plain", frames=8, levels=(0.0,), rendered=False)
    assert main(["calibrate-noise", "--data", str(plain), "--run", str(run), "--out", out]) == 2
    assert "not a rendered benchmark" in _err(capsys)
    # level 0 only: no joint occluded by an object in the train split
    zero = make_benchmark(tmp_path / "zero", frames=8, levels=(0.0,))
    zrun = fake_run(zero, tmp_path / "zrun", KNOWN)
    assert main(["calibrate-noise", "--data", str(zero), "--run", str(zrun), "--out", out]) == 2
    err = _err(capsys)
    assert "occluded_by_object" in err and "--allow-missing-states" in err
    with pytest.raises(SystemExit):
        main(args + ["--run", str(run), "--split", "valid"])
    assert not Path(out).exists()


def test_allow_missing_states_leaves_the_keys_unset(tmp_path, capsys):
    bench = make_benchmark(tmp_path / "bench", frames=40, levels=(0.0,))
    run = fake_run(bench, tmp_path / "run", KNOWN)
    out = tmp_path / "out"
    assert main(["calibrate-noise", "--data", str(bench), "--run", str(run), "--out", str(out),
                 "--allow-missing-states"]) == 0
    assert "occluded_by_object not fitted" in capsys.readouterr().out
    table = read_toml(out / "noise.toml")["train"]["noise"]
    assert not any(k.startswith("object_") for k in table)
    assert {"body_std", "out_of_frame_std", "occluded_std", "visible_std"} <= set(table)
    doc = json.loads((out / "calibration.json").read_text())
    assert doc["fit"]["occluded_by_object"] is None and doc["measured"]["occluded_by_object"] == {}
    assert "--allow-missing-states" in (out / "noise.toml").read_text()
    assert (out / "calibration.png").is_file()


def test_persistent_errors_are_detected(tmp_path):
    """Errors frozen over time (a per joint and sequence offset): correlation near 1, large
    errors follow large errors; the fitted i.i.d. model shows neither."""
    bench = make_benchmark(tmp_path / "bench", frames=60, levels=(0.0, 0.3))
    run = tmp_path / "run"
    (run / "keypoints2d").mkdir(parents=True)
    for i, seq in enumerate(from_benchmark(open_benchmark(bench))):
        rng = np.random.default_rng([4, i])
        offset = rng.standard_normal((1, seq.joints_2d.shape[1], 2)) * 10.0
        offset *= np.where(rng.random((1, seq.joints_2d.shape[1], 1)) < 0.2, 8.0, 1.0)
        np.save(run / "keypoints2d" / f"{seq.id}.npy", (seq.joints_2d + offset).astype(np.float32))
    out = tmp_path / "out"
    assert main(["calibrate-noise", "--data", str(bench), "--run", str(run), "--out", str(out),
                 "--no-plot"]) == 0
    doc = json.loads((out / "calibration.json").read_text())
    for state in ("visible", "occluded_by_body", "occluded_by_object"):
        measured = doc["persistence"]["measured"][state]
        simulated = doc["persistence"]["simulated"][state]
        assert measured["lag_frames"] == 2
        assert measured["correlation"][1] > 0.8, state           # only joints that stay in the state
        assert abs(simulated["correlation"][0]) < 0.2
    ratio = doc["persistence"]["measured"]["visible"]["large_after_large_ratio"]
    assert ratio[1] > 2


def test_keypoints_2d_uses_the_states(tmp_path):
    bench = make_benchmark(tmp_path / "bench", frames=40, levels=(0.3,))
    seq = from_benchmark(open_benchmark(bench))[0]
    old = keypoints_2d(seq, "noise", NoiseSection())
    far = keypoints_2d(seq, "noise", NoiseSection(out_of_frame_std=0.0, out_of_frame_outlier_prob=0.0))
    oof = seq.labels["out_of_frame"]
    np.testing.assert_array_equal(far.pixels[~oof], old.pixels[~oof])
    kept = oof & ~far.dropped
    np.testing.assert_allclose(far.pixels[kept], np.clip(seq.joints_2d[kept], 0, seq.width), atol=1e-3)
