"""Tests for occpose.models: TCN shapes and parameter counts, strided/dilated equivalence,
causality, occlusion-aware variants, the linear baseline, keypoint augmentation, build_model."""

import pytest
import torch
from torch import nn

from occpose.metrics import mpjpe
from occpose.models import (MODEL_NAMES, LinearModel, OccPoseOutput, TemporalModel,
                            TemporalModelOcc1, TemporalModelOccSeq, TemporalModelOptimized1f,
                            build_model, occlude_keypoints, occlusion_aware_loss, occlusion_loss)

J = 17


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _randomise_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine weights, so eval-mode comparisons mean something."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(0.5 + torch.rand(n, generator=g))
            with torch.no_grad():
                m.weight.copy_(torch.randn(n, generator=g))
                m.bias.copy_(torch.randn(n, generator=g))


# ---- VideoPose3D TCN ----------------------------------------------------------------------------

@pytest.mark.parametrize("widths, n_params, rf", [
    ((3, 3, 3), 8_555_571, 27),
    ((3, 3, 3, 3), 12_753_971, 81),
    ((3, 3, 3, 3, 3), 16_952_371, 243),
])
def test_tcn_parameter_counts_and_receptive_field(widths, n_params, rf):
    for cls in (TemporalModel, TemporalModelOptimized1f):
        model = cls(J, 2, J, widths, channels=1024)
        assert _n_params(model) == n_params
        assert model.receptive_field() == rf


def test_tcn_output_length_and_padding():
    model = TemporalModel(J, 2, J, (3, 3, 3), channels=16).eval()
    assert model(torch.randn(2, 40, J, 2)).shape == (2, 40 - 27 + 1, J, 3)
    assert model(torch.randn(1, 27, J, 2)).shape == (1, 1, J, 3)
    assert model.input_padding() == (13, 13) and model.output_offset() == 13
    with pytest.raises(ValueError, match="at least 27 frames"):
        model(torch.randn(1, 26, J, 2))
    with pytest.raises(ValueError, match=r"\(B, T, 17, 2\)"):
        model(torch.randn(1, 30, 16, 2))
    causal = TemporalModel(J, 2, J, (3, 3, 3), causal=True, channels=16)
    assert causal.input_padding() == (26, 0) and causal.output_offset() == 26
    with pytest.raises(ValueError, match="odd"):
        TemporalModel(J, 2, J, (3, 2))


def test_set_bn_momentum():
    model = TemporalModel(J, 2, J, (3, 3), channels=8)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert bns and all(m.momentum == 0.1 for m in bns)
    model.set_bn_momentum(0.01)
    assert all(m.momentum == 0.01 for m in bns)


@pytest.mark.parametrize("causal", [False, True])
def test_optimized_1f_matches_dilated_model(causal):
    torch.manual_seed(0)
    dilated = TemporalModel(J, 2, J, (3, 3, 3), causal=causal, channels=32).double()
    _randomise_bn(dilated)
    strided = TemporalModelOptimized1f(J, 2, J, (3, 3, 3), causal=causal, channels=32).double()
    strided.load_state_dict(dilated.state_dict())
    assert dilated.state_dict().keys() == strided.state_dict().keys()
    dilated.eval(), strided.eval()
    x = torch.randn(2, 35, J, 2, dtype=torch.float64)
    full = dilated(x)                                              # (2, 9, J, 3)
    for i in (0, 4, 8):
        one = strided(x[:, i:i + 27])
        assert one.shape == (2, 1, J, 3)
        torch.testing.assert_close(one[:, 0], full[:, i], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("causal", [False, True])
def test_frames_major_training_path_equals_the_convolutions(causal):
    """The strided model's matrix-product path gives the channels-first convolutions' outputs,
    gradients and BatchNorm running statistics in training mode (dropout off)."""
    torch.manual_seed(0)
    models = []
    for channels_first in (True, False):
        torch.manual_seed(0)
        m = TemporalModelOptimized1f(J, 2, J, (3, 5), causal=causal, dropout=0.0, channels=16).double()
        m.channels_first = channels_first
        models.append(m.train())
    x = torch.randn(6, 15, J, 2, dtype=torch.float64)
    outs = [m(x) for m in models]
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-10, atol=1e-10)
    for out in outs:
        out.square().sum().backward()
    for (k, a), b in zip(models[0].named_parameters(), models[1].parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-10, msg=k)
    for k, v in models[0].state_dict().items():
        torch.testing.assert_close(v, models[1].state_dict()[k], rtol=1e-10, atol=1e-10, msg=k)
    # dropout: training mode zeroes about p of the activations, evaluation mode none
    m = TemporalModelOptimized1f(J, 2, J, (3, 3), dropout=0.5, channels=64).train()
    h = torch.ones(4, 9, 64)
    kept = m._dropout(h)
    assert set(kept.unique().tolist()) <= {0.0, 2.0} and 0.4 < (kept == 0).float().mean() < 0.6
    assert torch.equal(m.eval()._dropout(h), h)


def test_strided_dropout_mask_is_the_uniform_draw_threshold():
    """The mask built in the draw's memory has the values of ``(rand >= p).float() / (1 - p)``
    from the same ``torch.rand_like`` draw (the runs' checkpoints depend on both)."""
    m = TemporalModelOptimized1f(J, 2, J, (3, 3), dropout=0.25, channels=64).train()
    h = torch.randn(8, 9, 64).relu()
    torch.manual_seed(3)
    out = m._dropout(h)
    after = torch.get_rng_state()
    torch.manual_seed(3)
    ref = h * ((torch.rand_like(h) >= 0.25).to(h.dtype) * (1.0 / (1.0 - 0.25)))
    assert torch.equal(out, ref) and torch.equal(torch.get_rng_state(), after)


def _autograd_nodes(t: torch.Tensor) -> set:
    seen, todo = set(), [t.grad_fn]
    while todo:
        fn = todo.pop()
        if fn is not None and fn not in seen:
            seen.add(fn)
            todo += [f for f, _ in fn.next_functions]
    return {type(fn).__name__ for fn in seen}


def test_strided_training_graph_has_no_in_place_ops_on_views():
    """ReLU runs in place on BatchNorm's output itself: on a reshaped view of it autograd would
    add CopySlices nodes, which copy and fill the whole gradient in the backward pass."""
    m = TemporalModelOptimized1f(J, 2, J, (3, 3), channels=16).train()
    nodes = _autograd_nodes(m(torch.randn(4, 9, J, 2)))
    assert "ReluBackward0" in nodes and "CopySlices" not in nodes


def test_causal_model_only_sees_the_past():
    torch.manual_seed(0)
    model = TemporalModel(J, 2, J, (3, 3), causal=True, channels=16).eval()
    left, right = model.input_padding()
    x = torch.randn(1, 20, J, 2)
    assert right == 0

    def padded(s):                                                 # replicate the first frame
        return torch.cat([s[:, :1].expand(-1, left, -1, -1), s], dim=1)

    y = model(padded(x))
    assert y.shape[1] == 20                                        # one output per input frame
    x2 = x.clone()
    x2[:, 12] += 1.0                                               # change frame 12 only
    y2 = model(padded(x2))
    torch.testing.assert_close(y2[:, :12], y[:, :12])              # frames < 12 unaffected
    assert not torch.allclose(y2[:, 12], y[:, 12])


def test_layer_offsets():
    model = TemporalModel(J, 2, J, (3, 3, 3, 3), channels=8)
    assert model.pad == [1, 3, 9, 27] and model.causal_shift == [0, 0, 0, 0]
    causal = TemporalModel(J, 2, J, (3, 3, 3, 3), causal=True, channels=8)
    assert causal.causal_shift == [1, 3, 9, 27] and causal.output_offset() == 80


# ---- occlusion-aware TCNs -----------------------------------------------------------------------

def _occ_batch(b=2, t=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, t, J, 2, generator=g), (torch.rand(b, t, J, generator=g) < 0.3).float()


@pytest.mark.parametrize("cls, t_occ", [(TemporalModelOcc1, 20 - 9 + 1), (TemporalModelOccSeq, 20)])
@pytest.mark.parametrize("causal", [False, True])
def test_occ_variants_shapes_and_ranges(cls, t_occ, causal):
    model = cls(J, 2, J, (3, 3), causal=causal, channels=16, occ_channels=8)
    kp, occ = _occ_batch()
    for train in (True, False):
        model.train(train)
        out = model(kp, occ)
        assert isinstance(out, OccPoseOutput)
        assert out.pose.shape == (2, 20 - 9 + 1, J, 3)
        assert out.occlusion.shape == (2, t_occ, J) == model.occlusion_target(occ).shape
        assert out.gate.shape == (2, 20, J)
        for p in (out.occlusion, out.gate):
            assert p.min() >= 0 and p.max() <= 1
    assert model.receptive_field() == 9 and model.uses_occlusion
    with pytest.raises(ValueError, match="occlusion vectors"):
        model(kp, occ[:, :-1])


def test_occ1_target_is_the_estimated_frame():
    occ = torch.arange(20.0).reshape(1, 20, 1).expand(1, 20, J)
    model = TemporalModelOcc1(J, 2, J, (3, 3), channels=8, occ_channels=4)
    assert model.occlusion_target(occ)[0, :, 0].tolist() == list(range(4, 16))
    causal = TemporalModelOcc1(J, 2, J, (3, 3), causal=True, channels=8, occ_channels=4)
    assert causal.occlusion_target(occ)[0, :, 0].tolist() == list(range(8, 20))


@pytest.mark.parametrize("cls", [TemporalModelOcc1, TemporalModelOccSeq])
def test_occlusion_gradients_flow(cls):
    torch.manual_seed(0)
    model = cls(J, 2, J, (3, 3), channels=16, occ_channels=8)
    kp, occ = _occ_batch()
    out = model(kp, occ)
    occlusion_loss(out.occlusion, model.occlusion_target(occ)).backward()
    assert model.occ_stem.weight.grad.abs().sum() > 0
    model.zero_grad()
    out = model(kp, occ)
    out.pose.square().mean().backward()                           # pose loss reaches the gate
    assert model.occ_gate.weight.grad.abs().sum() > 0
    assert model.occ_stem.weight.grad.abs().sum() > 0


def _identity_gate(model):
    """Branch weights making õ ≈ 1 exactly where the input vector says occluded."""
    with torch.no_grad():
        model.occ_stem.weight.zero_()
        model.occ_stem.bias.zero_()
        centre = 2 if model.causal else 1                           # tap of the current frame
        model.occ_stem.weight[torch.arange(J), torch.arange(J), centre] = 1.0
        model.occ_gate.weight.copy_(20.0 * torch.eye(J)[:, :, None])
        model.occ_gate.bias.fill_(-10.0)


@pytest.mark.parametrize("causal", [False, True])
def test_hard_gating_zeroes_occluded_keypoints_in_eval(causal):
    model = TemporalModelOccSeq(J, 2, J, (3, 3), causal=causal, channels=16, occ_channels=J).eval()
    _randomise_bn(model)
    _identity_gate(model)
    kp, occ = _occ_batch()
    out = model(kp, occ)
    torch.testing.assert_close(out.gate, occ, atol=1e-4, rtol=0)
    moved = kp + 5.0 * occ[..., None]                              # move only occluded joints
    torch.testing.assert_close(model(moved, occ).pose, out.pose)
    # Soft gating lets the (tiny) residual 1 - õ of occluded joints through: the pose changes.
    model.gating = "soft"
    assert not torch.equal(model(moved, occ).pose, model(kp, occ).pose)


def test_occlusion_losses():
    pred = torch.tensor([[0.25, 0.75]])
    target = torch.tensor([[0.0, 1.0]])
    assert occlusion_loss(pred, target).item() == pytest.approx(0.25)
    assert occlusion_loss(pred, target.bool()).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match="differ in shape"):
        occlusion_loss(pred, target[:, :1])
    pose = torch.randn(2, 3, J, 3)
    out = OccPoseOutput(pose=pose, occlusion=pred, gate=pred)
    gt = torch.zeros_like(pose)
    expected = 2.0 * mpjpe(pose, gt) + 0.5 * 0.25
    assert occlusion_aware_loss(out, gt, target, 2.0, 0.5).item() == pytest.approx(expected.item())


# ---- linear baseline ----------------------------------------------------------------------------

def test_linear_shapes():
    model = LinearModel(J, linear_size=32).eval()
    assert model(torch.randn(4, J, 2)).shape == (4, 1, J, 3)
    assert model(torch.randn(4, 1, J, 2)).shape == (4, 1, J, 3)
    assert model(torch.randn(4, 5, J, 2)).shape == (4, 5, J, 3)
    assert model.receptive_field() == 1 and not model.uses_occlusion
    with pytest.raises(ValueError):
        model(torch.randn(4, J, 3))


def test_linear_parameter_count():
    c, n = 1024, 2
    expected = (2 * J * c + c + 2 * c) + n * 2 * (c * c + c + 2 * c) + (c * 3 * J + 3 * J)
    assert _n_params(LinearModel(J)) == expected


def test_linear_max_norm():
    model = LinearModel(J, linear_size=32)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear):
                m.weight.mul_(10.0)
    model.apply_max_norm(1.0)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 6
    for m in linears:
        assert m.weight.norm(dim=1).max() <= 1.0 + 1e-5
    model.apply_max_norm(0.1)
    assert all(m.weight.norm(dim=1).max() <= 0.1 + 1e-6 for m in linears)


# ---- a few optimisation steps lower the loss ----------------------------------------------------

@pytest.mark.parametrize("name", ["tcn", "tcn-occ1", "tcn-occseq", "linear"])
def test_training_steps_lower_the_loss(name):
    torch.manual_seed(0)
    nj = 5
    model = build_model(name, nj, filter_widths=(3, 3), channels=32, dropout=0.0,
                        **({"occ_channels": 8} if name.startswith("tcn-occ") else {}))
    g = torch.Generator().manual_seed(1)
    kp = torch.randn(8, 15, nj, 2, generator=g)
    occ = (torch.rand(8, 15, nj, generator=g) < 0.3).float()
    rf = model.receptive_field()
    lift = torch.randn(2 * nj, 3 * nj, generator=g)
    gt = (kp.reshape(8, 15, -1) @ lift).reshape(8, 15, nj, 3)      # a learnable 2D->3D map
    if rf > 1:
        off = model.output_offset()
        gt = gt[:, off: off + 15 - rf + 1]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_fn():
        if model.uses_occlusion:
            out = model(kp, occ)
            return occlusion_aware_loss(out, gt, model.occlusion_target(occ))
        return mpjpe(model(kp), gt)

    first = loss_fn()
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        if name == "linear":
            model.apply_max_norm(1.0)
    last = loss_fn().item()
    assert last < 0.8 * first.item()


# ---- keypoint augmentation ----------------------------------------------------------------------

def _kp(seed=0):
    return torch.randn(4, 30, J, 2, generator=torch.Generator().manual_seed(seed))


def test_augment_is_seeded_and_not_in_place():
    kp = _kp()
    before = kp.clone()
    a = occlude_keypoints(kp, generator=torch.Generator().manual_seed(7))
    b = occlude_keypoints(kp, generator=torch.Generator().manual_seed(7))
    c = occlude_keypoints(kp, generator=torch.Generator().manual_seed(8))
    assert torch.equal(kp, before)
    assert torch.equal(a.keypoints, b.keypoints) and torch.equal(a.touched, b.touched)
    assert not torch.equal(a.keypoints, c.keypoints)
    assert a.touched.any() and a.blanked.any() and a.occlusion is None
    assert torch.all(a.keypoints[a.blanked] == 0)
    assert torch.equal(a.keypoints[~a.touched], kp[~a.touched])
    assert (a.touched & ~a.blanked).any()                          # some corrupted joints
    assert a.keypoints.data_ptr() != kp.data_ptr()


def test_augment_probability_zero_is_identity():
    kp = _kp()
    out = occlude_keypoints(kp, generator=torch.Generator().manual_seed(0),
                            p_blank=0.0, p_corrupt=0.0, p_span=0.0)
    assert torch.equal(out.keypoints, kp) and not out.touched.any()


def test_augment_track_spans_are_contiguous():
    kp = _kp()
    out = occlude_keypoints(kp, generator=torch.Generator().manual_seed(3), p_blank=0.0,
                            p_corrupt=0.0, p_span=1.0, max_span=6)
    counts = out.blanked.sum(dim=1)                                # (B, J) frames per track
    assert counts.min() >= 1 and counts.max() <= 6
    for b in range(4):
        for j in range(J):
            frames = torch.nonzero(out.blanked[b, :, j]).flatten()
            assert frames.max() - frames.min() + 1 == len(frames)


def _occlude_reference(kp2d, gen, p_blank=0.1, p_corrupt=0.05, corrupt_std=0.1, p_span=0.05,
                       max_span=10):
    """occlude_keypoints as first written (broadcast selects): the draws and values that tcn-aug
    checkpoints depend on."""
    b, t, j = kp2d.shape[:3]
    blanked = torch.rand((b, t, j), generator=gen) < p_blank
    has_span = torch.rand((b, j), generator=gen) < p_span
    start = torch.randint(0, t, (b, j), generator=gen)
    length = torch.randint(1, max_span + 1, (b, j), generator=gen)
    frames = torch.arange(t)[None, :, None]
    in_span = (frames >= start[:, None]) & (frames < (start + length)[:, None])
    blanked = blanked | (in_span & has_span[:, None])
    corrupted = (torch.rand((b, t, j), generator=gen) < p_corrupt) & ~blanked
    noise = torch.randn((b, t, j, 2), generator=gen).to(kp2d.dtype)
    out = torch.where(corrupted[..., None], kp2d + corrupt_std * noise, kp2d)
    return out.masked_fill(blanked[..., None], 0.0), blanked | corrupted


@pytest.mark.parametrize("case", ["float32", "float64", "strided", "odd-offset", "zeros"])
def test_augment_has_the_bits_of_the_plain_selects(case):
    """The joint-pair selects give exactly (sign of zero included) the broadcast selects'
    values, on the fast path (contiguous float32) and the fallbacks."""
    kp = _kp(5)
    if case == "float64":
        kp = kp.double()
    elif case == "strided":
        kp = kp.transpose(1, 2).contiguous().transpose(1, 2)       # (B, T, J, 2), T not innermost
    elif case == "odd-offset":
        kp = torch.randn(4 * 30 * J * 2 + 1).narrow(0, 1, 4 * 30 * J * 2).view(4, 30, J, 2)
    elif case == "zeros":
        kp = torch.where(torch.rand(kp.shape) < 0.5, -0.0, 0.0)    # signed zeros kept
    ref, touched = _occlude_reference(kp, torch.Generator().manual_seed(11), p_blank=0.2,
                                      p_corrupt=0.3)
    out = occlude_keypoints(kp, generator=torch.Generator().manual_seed(11), p_blank=0.2,
                            p_corrupt=0.3)
    assert out.keypoints.dtype == kp.dtype and out.keypoints.shape == kp.shape
    assert torch.equal(out.keypoints, ref) and torch.equal(out.touched, touched)
    assert torch.equal(out.keypoints.view(-1).signbit(), ref.view(-1).signbit())


def test_augment_updates_occlusion_labels():
    kp = _kp()
    occ = torch.rand(4, 30, J, generator=torch.Generator().manual_seed(1)) < 0.2
    out = occlude_keypoints(kp, occ, generator=torch.Generator().manual_seed(2), p_blank=0.3)
    assert torch.equal(out.occlusion, occ | out.blanked)
    out_f = occlude_keypoints(kp, occ.float(), generator=torch.Generator().manual_seed(2),
                              p_blank=0.3)
    assert torch.equal(out_f.occlusion, (occ | out.blanked).float())


# ---- registry -----------------------------------------------------------------------------------

def test_build_model_registry():
    expected = {"tcn": (TemporalModel, False), "tcn-aug": (TemporalModel, False),
                "tcn-occ1": (TemporalModelOcc1, True), "tcn-occseq": (TemporalModelOccSeq, True),
                "linear": (LinearModel, False)}
    assert set(MODEL_NAMES) == set(expected)
    for name in MODEL_NAMES:
        model = build_model(name, J, filter_widths=(3, 3), channels=8)
        cls, uses_occ = expected[name]
        assert type(model) is cls and model.uses_occlusion is uses_occ
        assert model.receptive_field() == (1 if name == "linear" else 9)
    assert build_model("linear", J, channels=8).input_layer[3].p == 0.5
    assert build_model("tcn", J, channels=8).drop.p == 0.25
    assert build_model("tcn", J, channels=8, causal=True).causal
    with pytest.raises(ValueError, match=r"unknown model 'gcn'.*tcn-occseq"):
        build_model("gcn", J)
    with pytest.raises(ValueError, match="occ_channels"):
        build_model("tcn", J, channels=8, occ_channels=4)


@pytest.mark.parametrize("name", ["tcn-occ1", "tcn-occseq"])
@pytest.mark.parametrize("causal", [False, True])
def test_occ_single_frame_twin_matches_dilated(name, causal):
    """The strided training twin shares the state_dict and gives the centre frame's output."""
    torch.manual_seed(0)
    kw = dict(num_joints=5, filter_widths=(3, 3), channels=16, causal=causal, occ_channels=8)
    dilated = build_model(name, **kw).double().eval()
    strided = build_model(name, **kw, single_frame=True).double().eval()
    strided.load_state_dict(dilated.state_dict())
    rf = dilated.receptive_field()
    kp = torch.randn(3, rf, 5, 2, dtype=torch.float64)
    occ = (torch.rand(3, rf, 5) < 0.3).double()
    a, b = dilated(kp, occ), strided(kp, occ)
    assert torch.allclose(a.pose, b.pose, atol=1e-10)
    assert torch.allclose(a.occlusion, b.occlusion, atol=1e-10)
