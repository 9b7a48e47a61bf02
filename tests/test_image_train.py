"""Training, resuming, predicting and evaluating the image model on a Pillow-drawn benchmark."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from occpose.dataset import open_benchmark
from occpose.errors import ConfigError, OccposeError
from occpose.image import (ablation_table, evaluate_image_run, image_section, interpolate_frames,
                           predict_benchmark, train_image_model)
from occpose.image.data import CropDataset, frame_refs, load_frames
from occpose.image.toy import write_toy_image_benchmark
from occpose.image.train import build_model, image_loss, load_checkpoint, make_paster

TINY = dict(crop_size=32, backbone_depth=10, backbone_width=8, output_stride=8, depth_bins=8,
            batch_size=8, val_frames=4, epochs=1, workers=0, device="cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("img") / "toy"
    write_toy_image_benchmark(root, stride=2, frames=8, size=64, levels=(0.0, 0.3))
    return open_benchmark(root)


def dataset(bench, sec, paster=None, train=True):
    seqs = load_frames(bench, bench.select(split="train"))
    return CropDataset(bench.root, seqs, frame_refs(seqs), sec, bench.skeleton.flip_permutation(),
                       train, paster, seed=3)


def test_a_few_steps_lower_the_loss(bench):
    sec = image_section(**TINY)
    ds = dataset(bench, sec, train=False)
    batch = torch.utils.data.default_collate([ds[i] for i in range(8)])
    torch.manual_seed(0)
    model = build_model(sec, 17)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss, _ = image_loss(model(batch["image"]), batch, sec)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_paster_never_changes_labels(bench):
    sec = image_section(**TINY, p_occlude=1.0)
    plain, pasted = dataset(bench, sec), dataset(bench, sec, make_paster(sec))
    for i in range(len(plain)):
        a, b = plain[i], pasted[i]
        assert b["occluders"] >= 1
        for key in ("target", "root_depth", "intrinsics", "rot"):
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert any(not torch.equal(plain[i]["image"], pasted[i]["image"]) for i in range(len(plain)))


def test_flip_augmentation_mirrors_labels(bench):
    sec = image_section(**TINY, flip_prob=1.0, color_jitter=0.0, scale_jitter=0.0,
                        shift_jitter=0.0, rotation_deg=0.0)
    flipped, plain = dataset(bench, sec), dataset(bench, image_section(**TINY), train=False)
    perm = bench.skeleton.flip_permutation()
    a, b = flipped[1], plain[1]
    torch.testing.assert_close(a["image"], b["image"].flip(-1))
    torch.testing.assert_close(a["target"], b["target"][perm] * torch.tensor([-1.0, 1.0, 1.0]))


def test_train_resume_and_refuse_other_settings(bench, tmp_path):
    run = tmp_path / "run"
    r1 = train_image_model(bench, run, image_section(**TINY), progress=False, max_steps=2)
    assert r1.epochs == 1 and r1.resumed_from == 0
    r2 = train_image_model(bench, run, image_section(**{**TINY, "epochs": 2}), progress=False, max_steps=2)
    assert r2.resumed_from == 1 and r2.epochs == 2
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]
    ckpt = load_checkpoint(run / "checkpoint.pt")               # weights_only=True
    assert ckpt["epoch"] == 2 and "val_mpjpe_mm" in ckpt["metrics"][-1]
    with pytest.raises(OccposeError, match="other settings"):
        train_image_model(bench, run, image_section(**{**TINY, "lr": 0.01}), progress=False)


def test_training_is_deterministic_on_cpu(bench, tmp_path):
    sec = image_section(**TINY, p_occlude=0.5)
    states = []
    for name in ("a", "b"):
        train_image_model(bench, tmp_path / name, sec, progress=False, max_steps=2)
        states.append(load_checkpoint(tmp_path / name / "checkpoint.pt")["model"])
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=0, atol=0)


def test_predict_and_evaluate(bench, tmp_path):
    run = tmp_path / "run"
    train_image_model(bench, run, image_section(**TINY), progress=False, max_steps=1)
    summary = predict_benchmark(bench, run, progress=False)
    assert sorted(summary["sequences"]) == sorted(e.id for e in bench.entries)
    for e in bench.entries:
        kp = np.load(run / "keypoints2d" / f"{e.id}.npy")
        p3 = np.load(run / "predictions3d" / f"{e.id}.npy")
        known = np.load(run / "predicted_frames" / f"{e.id}.npy")
        assert kp.shape == (8, 17, 2) and kp.dtype == np.float32 and np.isfinite(kp).all()
        assert p3.shape == (8, 17, 3) and np.abs(p3[:, 0]).max() == 0.0
        np.testing.assert_array_equal(known, bench.load(e).rendered)
        np.testing.assert_allclose(kp[1], (kp[0] + kp[2]) / 2, rtol=1e-5)   # interpolated
        np.testing.assert_allclose(kp[7], kp[6])                            # held at the end
    result = evaluate_image_run(bench, run)
    assert set(result["levels"]) == {"0.0", "0.3"}
    assert result["all"]["frames"] == 8 and np.isfinite(result["all"]["mpjpe"])
    table = ablation_table({"p=0": result, "p=0.5": result})
    assert table.splitlines()[0].startswith("| level |") and "| all |" in table
    truth = predict_benchmark(bench, run, root_depth="truth", flip=False, progress=False)
    assert truth["root_depth"] == "truth" and not truth["flip"]


def test_cli_train_predict_eval(bench, tmp_path, capsys):
    from occpose.cli.image import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    run = tmp_path / "cli"
    common = ["--set", "image.backbone_depth=10", "--set", "image.backbone_width=8",
              "--set", "image.output_stride=8", "--set", "image.val_frames=0"]
    for argv in (["image-train", "--data", str(bench.root), "--out", str(run), "--epochs", "1",
                  "--crop-size", "32", "--batch-size", "8", "--max-steps", "1", "--p-occlude", "0",
                  "--device", "cpu", "--quiet", *common],
                 ["image-predict", "--data", str(bench.root), "--run", str(run), "--quiet"],
                 ["image-eval", "--data", str(bench.root), "--run", f"p=0={run}", "--run", str(run)]):
        args = parser.parse_args(argv)
        assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "p=0 MPJPE" in out and "| all |" in out


def test_settings_errors():
    with pytest.raises(ConfigError, match="occluder_count"):
        image_section(occluder_count=[5, 2])
    with pytest.raises(ConfigError, match="multiple"):
        image_section(crop_size=100, output_stride=16)
    with pytest.raises(ConfigError, match="occluder_folder"):
        image_section(occluder_sources=["folder"])
    with pytest.raises(ConfigError, match="p_occlude"):
        image_section(p_occlude=1.5)
    with pytest.raises(ConfigError, match="size"):
        image_section(size="huge")
    assert image_section(size="resnet50").backbone_depth == 50


def test_interpolate_frames():
    values = np.zeros((6, 1, 2))
    known = np.array([False, True, False, False, True, False])
    values[1], values[4] = 3.0, 9.0
    out = interpolate_frames(values, known)
    np.testing.assert_allclose(out[:, 0, 0], [3, 3, 5, 7, 9, 9])


def test_cli_errors_are_one_line(bench, tmp_path, monkeypatch, capsys):
    import occpose.cli as cli

    if "image" not in cli.COMMANDS:
        monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + ("image",))
    code = cli.main(["image-predict", "--data", str(bench.root), "--run", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2 and "settings.json" in err and "Traceback" not in err
    code = cli.main(["image-train", "--data", str(bench.root), "--out", str(tmp_path / "r"),
                     "--set", "image.crop_size=100", "--quiet"])
    assert code == 2 and "crop_size" in capsys.readouterr().err
