"""Training: the loss falls, runs are deterministic, resume equals an uninterrupted run."""

import json

import pytest
import torch

from occpose.errors import OccposeError
from occpose.harness import RunSettings, train_model
from occpose.harness.checkpoint import load_checkpoint
from occpose.harness.toy import toy_sequences
from occpose.harness.train import bn_momentum


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    seqs = toy_sequences(subjects=("S1", "S2"), actions=("walk",), levels=(0.0, 0.3), frames=40)
    return [s for s in seqs if s.split == "train"], [s for s in seqs if s.split == "test"]


def _settings(model="tcn", **kw):
    base = dict(model=model, epochs=2, batch_size=32, channels=16, filter_widths=[3, 3],
                keypoints2d="noise", validation=0.0)
    return RunSettings(**{**base, **kw})


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("model", ["tcn", "tcn-occ1", "tcn-occseq", "tcn-aug", "linear"])
def test_a_few_epochs_lower_the_loss(data, tmp_path, model):
    train, val = data
    r = train_model(train, val, _settings(model, epochs=4, lr=3e-3), tmp_path / "run",
                    progress=False)
    losses = [m["loss"] for m in r.metrics]
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0]
    assert all("val_mpjpe_mm" in m and m["val_mpjpe_mm"] > 0 for m in r.metrics)
    if model.startswith("tcn-occ"):
        assert "occlusion_l1" in r.metrics[0]
    log = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in log] == [1, 2, 3, 4]
    assert {"loss", "lr", "val_mpjpe_mm", "time_s"} <= json.loads(log[0]).keys()


def test_same_seed_same_weights_other_seed_other_weights(data, tmp_path):
    train, _ = data
    a = train_model(train, None, _settings(seed=3), tmp_path / "a", progress=False)
    b = train_model(train, None, _settings(seed=3), tmp_path / "b", progress=False)
    c = train_model(train, None, _settings(seed=4), tmp_path / "c", progress=False)
    assert _same(a.state_dict, b.state_dict)
    assert not _same(a.state_dict, c.state_dict)
    assert not torch.are_deterministic_algorithms_enabled()        # global flag restored


@pytest.mark.parametrize("model", ["tcn-aug", "tcn-occ1"])
def test_resume_gives_the_weights_of_an_uninterrupted_run(data, tmp_path, model):
    train, val = data
    full = train_model(train, val, _settings(model), tmp_path / "full", progress=False)
    first = train_model(train, val, _settings(model, epochs=1), tmp_path / "crash", progress=False)
    assert first.epochs == 1 and not _same(first.state_dict, full.state_dict)
    resumed = train_model(train, val, _settings(model), tmp_path / "crash", progress=False)
    assert resumed.resumed_from == 1
    assert _same(resumed.state_dict, full.state_dict)
    ck_full = load_checkpoint(tmp_path / "full" / "checkpoint.pt")
    ck_res = load_checkpoint(tmp_path / "crash" / "checkpoint.pt")
    assert _same(ck_full["model"], ck_res["model"])
    for ga, gb in zip(ck_full["optimizer"]["state"].values(), ck_res["optimizer"]["state"].values()):
        assert all(torch.equal(ga[k], gb[k]) for k in ga)
    timing = ("time_s", "frames_per_s")
    strip = [{k: v for k, v in m.items() if k not in timing} for m in ck_res["metrics"]]
    assert strip == [{k: v for k, v in m.items() if k not in timing} for m in ck_full["metrics"]]
    # a complete run is not trained again
    again = train_model(train, val, _settings(model), tmp_path / "crash", progress=False)
    assert again.resumed_from == 2 and _same(again.state_dict, full.state_dict)


def test_checkpoint_format(data, tmp_path):
    train, _ = data
    train_model(train, None, _settings(epochs=1), tmp_path / "r", progress=False)
    ck = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
    assert {"format", "epoch", "model", "optimizer", "lr", "rng", "settings", "metrics"} <= ck.keys()
    assert ck["epoch"] == 1 and ck["settings"]["model"] == "tcn" and ck["settings"]["skeleton"] == "h36m17"
    assert isinstance(ck["rng"]["torch"], torch.Tensor)
    assert not list((tmp_path / "r").glob(".*.tmp"))
    doc = json.loads((tmp_path / "r" / "settings.json").read_text())
    assert doc["format"] == "occpose-run/1" and doc["data"]["sequences"] == len(train)


def test_run_dir_with_other_settings_is_refused(data, tmp_path):
    train, _ = data
    train_model(train, None, _settings(epochs=1), tmp_path / "r", progress=False)
    with pytest.raises(OccposeError, match="different lr"):
        train_model(train, None, _settings(epochs=1, lr=0.1), tmp_path / "r", progress=False)
    with pytest.raises(OccposeError, match="training data"):
        train_model(train[:1], None, _settings(epochs=1), tmp_path / "r", progress=False)
    train_model(train, None, _settings(epochs=2), tmp_path / "r2", progress=False)
    with pytest.raises(OccposeError, match="already trained 2 epochs"):
        train_model(train, None, _settings(epochs=1), tmp_path / "r2", progress=False)
    r = train_model(train, None, _settings(epochs=1, lr=0.1), tmp_path / "r", progress=False,
                    overwrite=True)
    assert r.resumed_from == 0 and r.settings.lr == 0.1


def test_bad_settings_are_one_line_errors(data, tmp_path):
    train, _ = data
    for kw, msg in ((dict(model="resnet"), "unknown model"), (dict(filter_widths=[3, 2]), "odd"),
                    (dict(occlusion_labels="magic"), "occlusion label"),
                    (dict(keypoints2d="blur"), "2D input source")):
        with pytest.raises(OccposeError, match=msg):
            train_model(train, None, _settings(**kw), tmp_path / "x", progress=False)
    with pytest.raises(OccposeError, match="CUDA"):
        if torch.cuda.is_available():
            raise OccposeError("CUDA present; nothing to test")
        train_model(train, None, _settings(), tmp_path / "x", device="cuda", progress=False)


def test_bn_momentum_schedule():
    s = _settings(epochs=10)
    assert bn_momentum(s, 0) == pytest.approx(0.1)
    assert bn_momentum(s, 10) == pytest.approx(0.001)
    assert bn_momentum(s, 5) == pytest.approx(0.01)
