"""Windows, padding alignment with the models, flips, prepared targets."""

import numpy as np
import pytest
import torch

from occpose.harness import RunSettings
from occpose.harness.data import WindowSet, flip_labels, flip_poses, prepare, skeleton_for
from occpose.harness.inference import build_eval_model, build_train_model, predict_sequence
from occpose.harness.toy import toy_sequences
from occpose.skeleton import H36M_17


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _prepared(model="tcn", frames=30):
    seqs = toy_sequences(subjects=("S1",), actions=("walk",), levels=(0.3,), frames=frames,
                         test_subjects=())
    return prepare(seqs, RunSettings(model=model, keypoints2d="exact"))


def test_targets_are_root_relative_with_the_root_at_zero():
    p = _prepared()[0]
    assert p.keypoints.shape == (30, 17, 2) and p.poses.shape == (30, 17, 3)
    assert np.all(p.poses[:, 0] == 0)
    assert p.occlusion is None
    assert _prepared("tcn-occ1")[0].occlusion.shape == (30, 17)


def test_flip_of_flip_is_identity():
    x = torch.randn(4, 9, 17, 3)
    y = flip_poses(x, H36M_17)
    torch.testing.assert_close(flip_poses(y, H36M_17), x)
    torch.testing.assert_close(y[..., 4, 0], -x[..., 1, 0])        # LHip <- -RHip (x negated)
    torch.testing.assert_close(y[..., 0, 1:], x[..., 0, 1:])
    occ = np.random.default_rng(0).random((5, 17)) < 0.5
    np.testing.assert_array_equal(flip_labels(flip_labels(occ, H36M_17), H36M_17), occ)
    np.testing.assert_array_equal(flip_labels(occ, H36M_17)[:, 11], occ[:, 14])


def test_skeleton_from_joint_count():
    assert skeleton_for(17).name == "h36m17" and skeleton_for(15).name == "humaneva15"


def test_training_windows_match_whole_sequence_inference():
    """The strided model on frame t's window == the dilated model's output t (shared weights)."""
    torch.manual_seed(0)
    settings = RunSettings(model="tcn", channels=16, filter_widths=[3, 3], keypoints2d="exact")
    train_model = build_train_model(settings, 17).eval()
    p = _prepared()[0]
    windows = WindowSet([p], train_model.receptive_field(), train_model.input_padding())
    assert len(windows) == p.n_frames
    batch = windows.batch(torch.arange(len(windows)))
    assert batch.keypoints.shape == (30, 9, 17, 2) and batch.poses.shape == (30, 1, 17, 3)
    torch.testing.assert_close(batch.poses[:, 0], torch.from_numpy(p.poses))
    # first window: 4 replicated copies of frame 0, then frames 0..4
    torch.testing.assert_close(batch.keypoints[0], torch.from_numpy(p.keypoints[[0] * 5 + [1, 2, 3, 4]]))
    eval_model = build_eval_model(settings, 17)
    eval_model.load_state_dict(train_model.state_dict())
    eval_model.eval()
    full = predict_sequence(eval_model, p, H36M_17, torch.device("cpu"))
    with torch.no_grad():
        one = train_model(batch.keypoints)[:, 0]
    np.testing.assert_allclose(one.numpy(), full, atol=1e-5)


def test_occlusion_windows_are_padded_like_keypoints():
    p = _prepared("tcn-occseq", frames=12)[0]
    windows = WindowSet([p], 9, (4, 4))
    b = windows.batch(torch.tensor([0, 11]))
    assert b.occlusion.shape == (2, 9, 17)
    torch.testing.assert_close(b.occlusion[1], torch.from_numpy(p.occlusion[[7, 8, 9, 10] + [11] * 5]))
