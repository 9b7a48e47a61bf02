"""occpose-bench score: prediction files scored like evaluate's runs, with intervals."""

import json

import numpy as np
import pytest

from occpose.cli import main
from occpose.dataset import open_benchmark
from occpose.harness.toy import write_toy_benchmark


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    return write_toy_benchmark(tmp_path_factory.mktemp("score") / "bench", subjects=("S1",),
                               actions=("walk", "box"), levels=(0.0, 0.3), frames=30,
                               test_subjects=("S4", "S5"))


@pytest.fixture(scope="module")
def truth(bench):
    b = open_benchmark(bench)
    return {e.id: b.load(e).joints_3d_cam.astype(np.float64) for e in b.select(split="test")}


def _save(path, arrays):
    np.savez(path, **arrays)
    return str(path)


def test_truth_plus_offset_gives_that_mpjpe_per_level(bench, truth, tmp_path):
    offset = np.zeros((17, 3))
    offset[1:] = np.random.default_rng(0).normal(0, 0.03, (16, 3))   # the root stays: root-aligned
    expected = 1000 * np.linalg.norm(offset, axis=-1).mean()
    pred = _save(tmp_path / "pred.npz", {k: v + offset for k, v in truth.items()})
    assert main(["score", "--data", str(bench), "--predictions", pred, "--out",
                 str(tmp_path / "res"), "--no-plots"]) == 0
    scores = json.loads((tmp_path / "res" / "scores.json").read_text())
    assert set(scores["by_level"]) == {"0.0", "0.3"}                  # the manifest's level keys
    for block in [scores["overall"], *scores["by_level"].values()]:
        assert block["mpjpe_mm"] == pytest.approx(expected, abs=1e-4)
        lo, hi = block["mpjpe_ci95"]
        assert lo == hi == block["mpjpe_mm"]                          # constant error: zero width
    assert scores["partial"] is False and scores["sequences"] == 8
    md = (tmp_path / "res" / "report.md").read_text()
    assert f"{expected:.1f} [{expected:.1f}–{expected:.1f}]" in md
    assert {"results.json", "results.csv", "report.md", "scores.json"} <= {
        p.name for p in (tmp_path / "res").iterdir()}


def test_truth_scores_zero_absolute_or_root_relative(bench, truth, tmp_path):
    rel = {k: v - v[:, :1] for k, v in truth.items()}
    for name, arrays in (("abs", truth), ("rel", rel)):
        pred = _save(tmp_path / f"{name}.npz", {k: v.astype(np.float32) for k, v in arrays.items()})
        assert main(["score", "--data", str(bench), "--predictions", pred, "--out",
                     str(tmp_path / name), "--no-plots"]) == 0
        scores = json.loads((tmp_path / name / "scores.json").read_text())
        for m in ("mpjpe_mm", "p_mpjpe_mm", "n_mpjpe_mm", "mpjve_mm_per_frame"):
            assert abs(scores["overall"][m]) < 1e-3, (name, m)


def test_compare_against_itself_reports_no_difference(bench, truth, tmp_path, capsys):
    rng = np.random.default_rng(1)
    pred = _save(tmp_path / "a.npz", {k: v + rng.normal(0, 0.05, v.shape) for k, v in truth.items()})
    assert main(["score", "--data", str(bench), "--predictions", pred, "--compare", pred,
                 "--out", str(tmp_path / "res")]) == 0
    scores = json.loads((tmp_path / "res" / "scores.json").read_text())
    comp = scores["compare"]["by_level"]
    assert set(comp) == {"0.0", "0.3", "all"}
    for d in comp.values():
        assert d["difference_mm"] == 0 and d["ci95"] == [0, 0] and d["significant"] is False
        assert d["verdict"].startswith("no difference")
    assert scores["overall"]["mpjpe_mm"] > 10 and scores["overall"]["mpjpe_ci95"][0] < scores["overall"]["mpjpe_ci95"][1]
    assert "no difference" in capsys.readouterr().out
    assert (tmp_path / "res" / "mpjpe_by_level.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_finds_a_real_difference(bench, truth, tmp_path):
    rng = np.random.default_rng(2)
    noise = {k: rng.normal(0, 0.04, v.shape) for k, v in truth.items()}
    a = _save(tmp_path / "worse.npz", {k: v + 1.5 * noise[k] for k, v in truth.items()})
    b = _save(tmp_path / "better.npz", {k: v + noise[k] for k, v in truth.items()})
    assert main(["score", "--data", str(bench), "--predictions", a, "--compare", b,
                 "--out", str(tmp_path / "res"), "--no-plots"]) == 0
    d = json.loads((tmp_path / "res" / "scores.json").read_text())["compare"]["by_level"]["all"]
    assert d["difference_mm"] > 0 and d["ci95"][0] > 0 and d["significant"]
    assert d["verdict"].startswith("better lower")


def test_partial_predictions_need_the_flag(bench, truth, tmp_path, capsys):
    some = dict(list(truth.items())[:5])
    pred = _save(tmp_path / "part.npz", some)
    assert main(["score", "--data", str(bench), "--predictions", pred, "--out",
                 str(tmp_path / "res"), "--no-plots"]) == 2
    err = capsys.readouterr().err.strip()
    assert "part.npz" in err and "3 of 8" in err and "--allow-partial" in err and "\n" not in err
    assert main(["score", "--data", str(bench), "--predictions", pred, "--out",
                 str(tmp_path / "res"), "--no-plots", "--allow-partial"]) == 0
    assert "PARTIAL" in capsys.readouterr().out
    assert "Partial predictions: 5 of 8" in (tmp_path / "res" / "report.md").read_text()
    assert json.loads((tmp_path / "res" / "scores.json").read_text())["partial"] is True


def _bad_cases(truth, tmp_path):
    first = next(iter(truth))
    t = truth[first].shape[0]
    yield "unknown", {**truth, "S9_walk_cam0_L000": truth[first]}, "'S9_walk_cam0_L000' is not a test sequence"
    yield "train", {**truth, "S1_walk_cam0_L000": truth[first]}, "train split"
    yield "shape", {**truth, first: truth[first][..., :2]}, "has shape"
    yield "joints", {**truth, first: truth[first][:, :15]}, "has 15 joints"
    yield "frames", {**truth, first: truth[first][: t - 1]}, f"has {t - 1} frames"
    nan = truth[first].copy()
    nan[3, 4, 0] = np.nan
    yield "nan", {**truth, first: nan}, "NaN or inf (first at frame 3, joint 4)"
    yield "inf", {**truth, first: np.where(nan == nan, nan, np.inf)}, "NaN or inf"
    yield "int", {**truth, first: truth[first].astype(np.int32)}, "dtype int32"
    yield "pickle", {**truth, first: np.array([{"x": 1}], dtype=object)}, "pickled Python objects"


def test_bad_predictions_one_line_naming_file_and_key(bench, truth, tmp_path, capsys):
    first = next(iter(truth))
    for name, arrays, msg in _bad_cases(truth, tmp_path):
        pred = _save(tmp_path / f"{name}.npz", arrays)
        rc = main(["score", "--data", str(bench), "--predictions", pred, "--out",
                   str(tmp_path / "res"), "--no-plots"])
        err = capsys.readouterr().err.strip()
        assert rc == 2, (name, err)
        assert msg in err and f"{name}.npz" in err and "\n" not in err, (name, err)
        if name not in ("unknown", "train"):
            assert repr(first) in err, (name, err)
    (tmp_path / "text.npz").write_text("not a zip")
    assert main(["score", "--data", str(bench), "--predictions", str(tmp_path / "text.npz"),
                 "--out", str(tmp_path / "res")]) == 2
    assert "not an .npz archive" in capsys.readouterr().err
    assert not (tmp_path / "res").exists()                            # nothing written on errors
