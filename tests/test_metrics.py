"""Tests for occpose.metrics: fixed values, invariances, numpy/torch agreement, masks."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from occpose.metrics import mpjpe, mpjve, n_mpjpe, p_mpjpe, procrustes_align, root_relative


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


@pytest.fixture
def poses():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(4, 6, 17, 3))                     # (B, T, J, 3)
    pred = target + 0.1 * rng.normal(size=target.shape)
    return pred, target


# ---- fixed values -------------------------------------------------------------------------------

def test_mpjpe_two_joints():
    pred = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    target = np.zeros((2, 3))
    assert mpjpe(pred, target) == pytest.approx(2.5)
    assert mpjpe(pred, target, mask=np.array([True, False])) == pytest.approx(5.0)
    assert mpjpe(pred, target, mask=np.array([False, True])) == pytest.approx(0.0)


def test_mpjpe_empty_mask_is_nan():
    pred, target = np.ones((3, 2, 3)), np.zeros((3, 2, 3))
    assert math.isnan(mpjpe(pred, target, mask=np.zeros((3, 2), bool)))
    assert math.isnan(float(mpjpe(torch.tensor(pred), torch.tensor(target),
                                  mask=torch.zeros(3, 2, dtype=torch.bool))))
    assert math.isnan(p_mpjpe(pred, target, mask=np.zeros((3, 2), bool)))


def test_mask_broadcasts_over_frames(poses):
    pred, target = poses
    mask = np.zeros(17, bool)
    mask[[2, 5]] = True
    expected = np.linalg.norm(pred - target, axis=-1)[..., [2, 5]].mean()
    assert mpjpe(pred, target, mask=mask) == pytest.approx(expected)


def test_n_mpjpe_fixed_value():
    target = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    pred = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])     # optimal scale 0.5 -> errors 0, 1
    assert n_mpjpe(pred, target) == pytest.approx(0.5)


def test_p_mpjpe_two_joints_align_exactly():
    # Any two-joint pose is a similarity transform of any other.
    target = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    pred = np.array([[5.0, 1.0, -2.0], [5.0, 4.0, 2.0]])
    assert p_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-9)


def test_mpjve_fixed_value():
    target = np.zeros((4, 2, 3))
    pred = np.zeros((4, 2, 3))
    pred[:, 0, 0] = np.arange(4)                               # joint 0 moves 1 unit per frame
    assert mpjve(pred, target) == pytest.approx(0.5)
    assert mpjve(pred + 7.0, target) == pytest.approx(0.5)    # constant offsets cancel
    mask = np.array([[True, True]] * 4)
    mask[2, 0] = False                                         # drops velocities 1->2 and 2->3
    assert mpjve(pred, target, mask=mask) == pytest.approx(1 / 4)
    assert mpjve(pred, target, mask=np.array([[True, False]] * 3)) == pytest.approx(1.0)


def test_root_relative():
    x = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    r = root_relative(x)
    assert np.all(r[:, 0] == 0)
    np.testing.assert_allclose(r[:, 2], x[:, 2] - x[:, 0])
    np.testing.assert_allclose(root_relative(x, root=1)[:, 1], 0)
    t = root_relative(torch.tensor(x))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), r)


# ---- invariances --------------------------------------------------------------------------------

def test_p_mpjpe_invariant_to_similarity_of_prediction(poses):
    pred, target = poses
    rng = np.random.default_rng(1)
    moved = 2.7 * pred @ _rotation(rng).T + np.array([0.3, -1.0, 4.0])
    assert p_mpjpe(moved, target) == pytest.approx(p_mpjpe(pred, target), rel=1e-9)
    assert p_mpjpe(moved, pred) == pytest.approx(0.0, abs=1e-9)
    assert p_mpjpe(pred, target) < mpjpe(pred, target)


def test_procrustes_excludes_reflections(poses):
    _, target = poses
    mirrored = target * np.array([-1.0, 1.0, 1.0])
    assert p_mpjpe(mirrored, target) > 0.1
    aligned = procrustes_align(target @ _rotation(np.random.default_rng(2)), target)
    np.testing.assert_allclose(aligned, target, atol=1e-9)


def test_p_mpjpe_mask_does_not_change_alignment(poses):
    pred, target = poses
    mask = np.zeros(17, bool)
    mask[:5] = True
    aligned = procrustes_align(pred, target)
    expected = np.linalg.norm(aligned - target, axis=-1)[..., :5].mean()
    assert p_mpjpe(pred, target, mask=mask) == pytest.approx(expected)


def test_n_mpjpe_invariant_to_scale(poses):
    pred, target = poses
    assert n_mpjpe(3.0 * pred, target) == pytest.approx(n_mpjpe(pred, target), rel=1e-9)
    assert n_mpjpe(0.5 * target, target) == pytest.approx(0.0, abs=1e-9)


# ---- backends -----------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", [mpjpe, p_mpjpe, n_mpjpe, mpjve])
def test_numpy_and_torch_agree(metric, poses):
    pred, target = poses
    mask = np.random.default_rng(3).random(pred.shape[:-1]) < 0.5
    for m in (None, mask):
        ref = metric(pred, target, mask=m)
        got = metric(torch.tensor(pred), torch.tensor(target),
                     mask=None if m is None else torch.tensor(m))
        assert isinstance(ref, np.floating) and not isinstance(ref, torch.Tensor)
        assert isinstance(got, torch.Tensor) and got.ndim == 0
        assert float(got) == pytest.approx(float(ref), rel=1e-9)
    got32 = metric(torch.tensor(pred, dtype=torch.float32),
                   torch.tensor(target, dtype=torch.float32))
    assert got32.dtype == torch.float32
    assert float(got32) == pytest.approx(float(metric(pred, target)), rel=1e-4)


def test_mixed_numpy_target_with_tensor_prediction(poses):
    pred, target = poses
    got = mpjpe(torch.tensor(pred), target)
    assert isinstance(got, torch.Tensor)
    assert float(got) == pytest.approx(mpjpe(pred, target))


def test_gradient_flows_through_mpjpe(poses):
    pred, target = poses
    p = torch.tensor(pred, requires_grad=True)
    mpjpe(p, torch.tensor(target)).backward()
    assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    p.grad = None
    n_mpjpe(p, torch.tensor(target)).backward()
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(np.zeros((17, 3)), np.zeros((16, 3)))
    with pytest.raises(ValueError, match="at least 2 frames"):
        mpjve(np.zeros((1, 17, 3)), np.zeros((1, 17, 3)))


def test_imports_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np\n"
            "from occpose.metrics import mpjpe, p_mpjpe\n"
            "x = np.random.default_rng(0).normal(size=(5, 17, 3))\n"
            "assert mpjpe(x, x) == 0 and p_mpjpe(x, x) < 1e-9\n")
    subprocess.run([sys.executable, "-c", code], check=True)
