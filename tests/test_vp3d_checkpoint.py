"""evaluate --videopose3d: VideoPose3D-layout checkpoints evaluated like occpose runs."""

import json
import os

import numpy as np
import pytest
import torch

from occpose.cli import main
from occpose.dataset import open_benchmark
from occpose.dataset.poses import from_benchmark
from occpose.errors import OccposeError
from occpose.harness import RunSettings, train_model
from occpose.harness.checkpoint import load_checkpoint
from occpose.harness.data import prepare
from occpose.harness.inference import build_eval_model, load_run, predict_sequence
from occpose.harness.toy import write_toy_benchmark
from occpose.harness.vp3d_checkpoint import load_videopose3d_run, read_videopose3d_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Code:
    def __reduce__(self):
        return (os.system, ("echo never",))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("vp3d")
    bench = write_toy_benchmark(root / "bench", subjects=("S1",), actions=("walk", "box"),
                                levels=(0.0, 0.3), frames=30, test_subjects=("S4",))
    seqs = from_benchmark(open_benchmark(bench))
    settings = RunSettings(model="tcn", seed=0, epochs=1, batch_size=32, channels=16,
                           filter_widths=[3, 3])
    train_model([s for s in seqs if s.split == "train"], None, settings, root / "run", progress=False)
    weights = load_checkpoint(root / "run" / "checkpoint.pt")["model"]
    opt = torch.optim.Adam(build_eval_model(settings, 17).parameters(), lr=1e-3, amsgrad=True)
    ckpt = root / "epoch_1.bin"
    torch.save({"epoch": 1, "lr": 0.00095, "random_state": np.random.RandomState(1234),
                "optimizer": opt.state_dict(), "model_pos": weights, "model_traj": None,
                "random_state_semi": None}, ckpt)              # VideoPose3D run.py's layout
    return bench, root / "run", ckpt, [s for s in seqs if s.split == "test"]


def test_same_predictions_as_the_occpose_run(setup):
    bench, run_dir, ckpt, test = setup
    cpu = torch.device("cpu")
    run = load_run(run_dir, cpu, 17)
    vp3d = load_videopose3d_run(ckpt, [3, 3], cpu, 17, channels=16, keypoints2d="noise")
    for p in prepare(test, run.settings):
        for flip in (False, True):
            np.testing.assert_array_equal(predict_sequence(vp3d.model, p, vp3d.skeleton, cpu, flip),
                                          predict_sequence(run.model, p, run.skeleton, cpu, flip))


def test_legacy_torch_save_format(setup, tmp_path):
    _, _, ckpt, _ = setup                  # VideoPose3D's released files predate torch's zip format
    legacy = tmp_path / "legacy.bin"
    torch.save({"epoch": 80, "random_state": np.random.RandomState(7),
                "model_pos": read_videopose3d_checkpoint(ckpt)}, legacy, _use_new_zipfile_serialization=False)
    a, b = read_videopose3d_checkpoint(legacy), read_videopose3d_checkpoint(ckpt)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cli_evaluate_videopose3d_equals_the_run(setup, tmp_path):
    bench, run_dir, ckpt, _ = setup
    assert main(["evaluate", "--data", str(bench), "--runs", str(run_dir), "--videopose3d", str(ckpt),
                 "--architecture", "3,3", "--channels", "16", "--keypoints2d", "noise",
                 "--out", str(tmp_path / "res"), "--quiet", "--no-plots"]) == 0
    doc = json.loads((tmp_path / "res" / "results.json").read_text())
    a, b = doc["runs"]
    assert b["model"] == "videopose3d:epoch_1.bin"
    assert a["by_level"] == b["by_level"] and a["by_joint"] == b["by_joint"]
    d = doc["differences"]["videopose3d:epoch_1.bin"]["by_level"]["all"]["mpjpe"]["all"]
    assert d["estimate"] == 0 and d["verdict"].startswith("no difference")


def test_bad_checkpoints(setup, tmp_path, capsys):
    bench, _, ckpt, _ = setup
    weights = read_videopose3d_checkpoint(ckpt)
    cpu = torch.device("cpu")
    with pytest.raises(OccposeError, match=r"lacks layer 'layers_conv.2.weight'.*another --architecture"):
        load_videopose3d_run(ckpt, [3, 3, 3], cpu, 17, channels=16)
    with pytest.raises(OccposeError, match=r"has layer 'layers_conv.0.weight', which --architecture 3 "):
        load_videopose3d_run(ckpt, [3], cpu, 17, channels=16)
    with pytest.raises(OccposeError, match=r"model_pos\['expand_bn.weight'\] has shape \(16,\), "
                                           r"--architecture 3,3 --channels 32 on 17 joints expects \(32,\)"):
        load_videopose3d_run(ckpt, [3, 3], cpu, 17, channels=32)
    with pytest.raises(OccposeError, match=r"\['shrink.weight'\] has shape \(51, 16, 1\).*on 15 joints expects \(45, 16, 1\)"):
        load_videopose3d_run(ckpt, [3, 3], cpu, 15, channels=16)
    cases = {"code.bin": ({"model_pos": weights, "extra": _Code()}, "does not load (posix.system)"),
             "array.bin": ({"model_pos": weights, "extra": np.zeros(3)}, "does not load"),
             "nopos.bin": ({"epoch": 3, "model": weights}, "key 'model_pos' missing (found epoch, model)"),
             "notdict.bin": ({"model_pos": [1, 2]}, "'model_pos' is not a state dict of tensors")}
    cases["legacy_code.bin"] = cases["code.bin"][0], "does not load (Trying to load unsupported GLOBAL posix.system"
    for name, (obj, msg) in cases.items():
        torch.save(obj, tmp_path / name, _use_new_zipfile_serialization=not name.startswith("legacy"))
        rc = main(["evaluate", "--data", str(bench), "--videopose3d", str(tmp_path / name),
                   "--architecture", "3,3", "--channels", "16", "--out", str(tmp_path / "res")])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and msg in err and name in err and "\n" not in err, (name, err)
    (tmp_path / "text.bin").write_text("hello")
    assert main(["evaluate", "--data", str(bench), "--videopose3d", str(tmp_path / "text.bin"),
                 "--architecture", "3,3", "--out", str(tmp_path / "res")]) == 2
    assert "not a torch checkpoint" in capsys.readouterr().err
    assert main(["evaluate", "--data", str(bench), "--videopose3d", str(ckpt),
                 "--out", str(tmp_path / "res")]) == 2
    assert "needs --architecture" in capsys.readouterr().err
    assert not (tmp_path / "res").exists()


def test_score_of_saved_predictions_equals_evaluate(setup, tmp_path):
    bench, run_dir, _, _ = setup
    assert main(["evaluate", "--data", str(bench), "--runs", str(run_dir), "--save-predictions",
                 "--out", str(tmp_path / "ev"), "--quiet", "--no-plots"]) == 0
    pred = tmp_path / "ev" / "predictions" / "run.npz"
    assert main(["score", "--data", str(bench), "--predictions", str(pred), "--out",
                 str(tmp_path / "sc"), "--no-plots"]) == 0
    ev = json.loads((tmp_path / "ev" / "results.json").read_text())["models"]["tcn"]
    sc_doc = json.loads((tmp_path / "sc" / "results.json").read_text())
    sc = sc_doc["models"]["run"]
    for view in ("by_level", "by_action", "by_joint"):
        assert ev[view] == sc[view]                  # every cell: mean, interval, spread
    scores = json.loads((tmp_path / "sc" / "scores.json").read_text())
    assert scores["by_level"]["0.3"]["mpjpe_mm"] == ev["by_level"]["0.30"]["mpjpe"]["all"]["mean"]
