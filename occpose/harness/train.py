"""Training one run (one model, one seed) in VideoPose3D's manner, resumable and deterministic.

* Data: every frame of every training sequence is one sample, its receptive-field window cut
  from the sequence padded by edge replication (:class:`~.data.WindowSet`); targets are
  root-relative camera-frame poses in metres with the root at 0.
* Models: ``tcn``/``tcn-aug`` train VideoPose3D's strided single-frame TCN (evaluated with the
  dilated TCN sharing its weights); ``tcn-occ1``/``tcn-occseq`` train the dilated occlusion-aware
  TCNs on the same windows with ``L' = λ1·MPJPE + λ2·L1(o, õ)``; ``linear`` trains on single
  frames with the max-norm constraint after every step. ``tcn-aug`` corrupts its input
  windows with :func:`~occpose.models.occlude_keypoints`.
* Epochs as VideoPose3D builds them (its ``ChunkedGenerator``): with ``flip_augment`` every
  window appears twice per epoch, once plain and once flipped horizontally (x negated, left and
  right joints swapped in the 2D input, the 3D target and the occlusion vectors), all shuffled
  together; without it, once.
* Schedule: Adam with amsgrad; ``lr · lr_decay^epoch``; BatchNorm momentum decayed from 0.1 to
  0.001 over the epochs, ``m_e = m_0 · exp(-e/E · ln(m_0/m_1))``.
* BatchNorm statistics (``bn_stats``): ``running`` (VideoPose3D, the default) evaluates with the
  running averages the momentum schedule leaves; ``precise`` (better than the reference on small
  data, see docs/parity.md) re-estimates them after the last epoch with the final weights over one
  pass of the epoch's windows (:func:`torch.optim.swa_utils.update_bn`). The schedule is set per
  epoch for VideoPose3D's Human3.6M epochs of ~3,000 steps; with a few dozen steps per epoch the
  late momenta (~0.001) leave running averages that mix the statistics of several epochs'
  weights.
* Validation: ``validation`` of the training clips (subject, action; all cameras and levels of
  a clip together) are held out when no validation sequences are passed; the test split is never
  looked at while training.
* Randomness: weights from ``key_seed(seed, "init")``; the epoch's shuffle, flips, augmentation
  and dropout from ``(seed, epoch, rank)``, so a resumed run replays exactly what an
  uninterrupted run does. Deterministic algorithms are switched on while training.
* Resume: ``RUN/checkpoint.pt`` is replaced atomically after every epoch; calling again with the
  same settings continues from it (``epochs`` may grow); different settings are refused unless
  ``overwrite``. ``RUN/metrics.jsonl`` gets one line per epoch: ``epoch``, ``loss`` (the
  minimised loss, metres), ``train_mpjpe_mm`` (training mode, augmented windows),
  ``occlusion_l1`` (occlusion-aware models), ``lr``, ``bn_momentum``, ``samples``,
  ``train_eval_mpjpe_mm`` (evaluation mode, whole training sequences, no flip: VideoPose3D's
  ``3d_eval``), ``val_mpjpe_mm`` (the same on the validation sequences, when there are any),
  and ``time_s`` (the epoch's training steps; ``samples / time_s`` is the training throughput).
* ``torchrun``: DistributedDataParallel over a DistributedSampler; ``batch_size`` is per process;
  rank 0 alone writes files and validates; BatchNorm statistics are copied from rank 0 at the end
  of every epoch so all ranks hold identical weights.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from ..dataset.poses import PoseSequence
from ..errors import OccposeError
from ..metrics import mpjpe, root_relative
from ..models import occlude_keypoints, occlusion_loss
from ..rng import key_seed
from ..skeleton import Skeleton
from .checkpoint import (CHECKPOINT_FILE, METRICS_FILE, load_checkpoint, rng_state, save_checkpoint,
                         set_rng_state, write_metrics_log)
from .data import Batch, WindowSet, data_summary, flip_labels, flip_poses, prepare, skeleton_for
from .device import autocast, flush_denormal, resolve_device
from .distributed import (DistInfo, all_reduce_sum, barrier, broadcast_buffers, init_from_env,
                          shutdown)
from .inference import build_eval_model, build_train_model, padding_of, predict_sequence
from .settings import SETTINGS_FILE, RunSettings, read_settings, write_settings

__all__ = ["RunResult", "train_model", "validation_split", "EpochWindows", "precise_bn"]

_SEED_MOD = 2 ** 63


@dataclass
class RunResult:
    """What :func:`train_model` returns.

    Attributes:
        run_dir: the run directory.
        settings: the settings trained with (skeleton filled in).
        epochs: epochs completed.
        resumed_from: epochs already done when this call started (0 = fresh run).
        metrics: per-epoch metrics (``metrics.jsonl``).
        device: device trained on.
        world_size: processes (torchrun).
        state_dict: final weights on CPU (the evaluation model's keys).
    """

    run_dir: Path
    settings: RunSettings
    epochs: int
    resumed_from: int
    metrics: list[dict]
    device: str
    world_size: int = 1
    state_dict: dict = field(default_factory=dict, repr=False)

    @property
    def val_mpjpe(self) -> float | None:
        return self.metrics[-1].get("val_mpjpe_mm") if self.metrics else None


def bn_momentum(settings: RunSettings, epoch: int) -> float:
    """VideoPose3D's exponential BatchNorm momentum decay from start to end over the epochs."""
    m0, m1 = settings.bn_momentum
    return m0 * math.exp(-epoch / settings.epochs * math.log(m0 / m1))


@contextlib.contextmanager
def _deterministic(device: torch.device):
    """Deterministic algorithms while training, and subnormal floats flushed to zero on the CPU
    (:func:`flush_denormal`); the previous global settings are restored."""
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    try:
        with flush_denormal():
            yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)


def _check_sequences(sequences: list[PoseSequence], what: str) -> int:
    joints = {s.joints_2d.shape[1] for s in sequences}
    if len(joints) > 1:
        raise OccposeError(f"{what} sequences mix joint counts {sorted(joints)}")
    return joints.pop()


def _open_run_dir(run_dir: Path, settings: RunSettings, data: dict, overwrite: bool,
                  info: DistInfo) -> dict | None:
    """Check RUN against the settings; returns the checkpoint to resume from, or None."""
    ckpt_path = run_dir / CHECKPOINT_FILE
    if run_dir.exists() and not run_dir.is_dir():
        raise OccposeError(f"{run_dir}: exists and is not a directory")
    ckpt, wipe = None, False
    if (run_dir / SETTINGS_FILE).is_file():
        old, old_data = read_settings(run_dir)
        old_identity = old.identity()
        diff = [k for k, v in settings.identity().items() if old_identity.get(k) != v]
        if old_data.get("sha256") != data["sha256"]:
            diff.append("training data")
        if diff:
            if not overwrite:
                raise OccposeError(f"{run_dir}: holds a run with different {', '.join(diff)}; use "
                                   f"another --out, the same arguments to resume, or --overwrite")
            wipe = True
        elif ckpt_path.is_file():
            ckpt = load_checkpoint(ckpt_path)
            if ckpt["epoch"] > settings.epochs:
                raise OccposeError(f"{run_dir}: already trained {ckpt['epoch']} epochs, more than "
                                   f"the {settings.epochs} asked for")
    elif ckpt_path.is_file():
        if not overwrite:
            raise OccposeError(f"{run_dir}: has a checkpoint but no {SETTINGS_FILE}; use another "
                               f"--out or pass --overwrite")
        wipe = True
    barrier(info)                         # every rank has read RUN before rank 0 changes it
    if info.is_main:
        if wipe:
            for name in (SETTINGS_FILE, CHECKPOINT_FILE, METRICS_FILE):
                (run_dir / name).unlink(missing_ok=True)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_settings(run_dir, settings, data)
    barrier(info)
    return ckpt


def validation_split(sequences: list[PoseSequence], fraction: float
                     ) -> tuple[list[PoseSequence], list[PoseSequence]]:
    """(train, validation): ``fraction`` of the clips (subject, action) held out, every camera and
    level of a held-out clip with it, so no motion is on both sides.

    The clips held out are the first ``round(fraction * clips)`` (at least one, never all) in the
    order of the SHA-256 of ``"subject/action"``: the same for every model and seed, and
    independent of the test split. ``fraction`` 0 holds out nothing.
    """
    if not 0 <= fraction < 1:
        raise OccposeError(f"validation fraction must be in [0, 1), got {fraction!r}")
    clips = sorted({(s.subject, s.action) for s in sequences},
                   key=lambda c: hashlib.sha256(f"{c[0]}/{c[1]}".encode()).hexdigest())
    if fraction == 0 or len(clips) < 2:
        return list(sequences), []
    held = set(clips[:min(max(1, round(fraction * len(clips))), len(clips) - 1)])
    return ([s for s in sequences if (s.subject, s.action) not in held],
            [s for s in sequences if (s.subject, s.action) in held])


class EpochWindows(WindowSet):
    """The samples of one epoch as VideoPose3D's ``ChunkedGenerator`` builds them: every window
    of ``windows`` once plain and, with ``flip``, once more flipped (sample ``i + len(windows)``
    is window ``i`` mirrored). The flipped copies are made once, so a batch is one gather
    (``len`` and ``batch`` are WindowSet's, over the doubled arrays)."""

    def __init__(self, windows: WindowSet, skeleton: Skeleton, flip: bool) -> None:
        # the arrays are built from ``windows`` here, so WindowSet.__init__ is not called

        kp, poses, occ, starts = windows.keypoints, windows.poses, windows.occlusion, windows.starts
        if flip:
            padded = kp.shape[0]
            kp = torch.cat([kp, flip_poses(kp, skeleton)])
            poses = torch.cat([poses, flip_poses(poses, skeleton)])
            occ = torch.cat([occ, flip_labels(occ, skeleton)]) if occ is not None else None
            starts = torch.cat([starts, starts + padded])
        self.keypoints, self.poses, self.occlusion, self.starts = kp, poses, occ, starts
        self.receptive_field, self.left = windows.receptive_field, windows.left
        self._span = torch.arange(windows.receptive_field)


def _augment(batch: Batch, settings: RunSettings, gen: torch.Generator) -> Batch:
    """``tcn-aug``'s keypoint occlusion (flips are whole samples of the epoch)."""
    if settings.model == "tcn-aug":
        kp = occlude_keypoints(batch.keypoints, generator=gen, **settings.augment).keypoints
        return Batch(kp, batch.poses, batch.occlusion)
    return batch


class _BatchForward(nn.Module):
    """``model`` called on a :class:`Batch` (for :func:`torch.optim.swa_utils.update_bn`)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch):
        if self.model.uses_occlusion:
            return self.model(batch.keypoints, batch.occlusion)
        return self.model(batch.keypoints)


def precise_bn(model: nn.Module, samples: EpochWindows, batch_size: int, dev: torch.device,
               seed: int) -> None:
    """Re-estimate every BatchNorm layer's running statistics with the current weights: the
    equal-weight average of the batch statistics over one pass of ``samples`` in shuffled batches
    of ``batch_size`` in training mode (dropout on, as the layers saw their inputs while
    training), the order and dropout drawn from ``seed``."""
    from torch.optim.swa_utils import update_bn

    torch.manual_seed(key_seed(seed, "precise-bn") % _SEED_MOD)
    # Shuffled, as in training: a batch of consecutive windows has a smaller variance than the
    # whole set, and the running variance averages the batches' variances.
    order = torch.randperm(len(samples))
    batches = [b for b in torch.split(order, batch_size) if len(b) > 1]
    was_training = model.training
    with torch.no_grad():
        update_bn((samples.batch(b) for b in batches), _BatchForward(model), device=dev)
    model.train(was_training)


def _bn_buffers(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def _loss(net: nn.Module, model: nn.Module, batch: Batch, settings: RunSettings):
    """(loss to minimise, pose MPJPE in metres, occlusion L1 or None)."""
    if settings.uses_occlusion:
        out = net(batch.keypoints, batch.occlusion)
        out.pose, out.occlusion = out.pose.float(), out.occlusion.float()
        target = model.occlusion_target(batch.occlusion)
        # Wang et al.'s L' (occlusion_aware_loss), keeping its two terms for the log
        pose_err, occ_err = mpjpe(out.pose, batch.poses), occlusion_loss(out.occlusion, target)
        return settings.lambda_pose * pose_err + settings.lambda_occ * occ_err, pose_err, occ_err
    pose = net(batch.keypoints).float()                                         # (B, 1, J, 3)
    loss = mpjpe(pose, batch.poses)
    return loss, loss, None


def _batches(sampler: DistributedSampler, batch_size: int) -> list[torch.Tensor]:
    order = torch.tensor(list(iter(sampler)), dtype=torch.long)
    out = list(torch.split(order, batch_size))
    if out and len(out[-1]) < 2:          # BatchNorm cannot train on a single sample
        out.pop()
    return out


def _run_epoch(net, model, opt, samples: EpochWindows, batches, settings: RunSettings,
               gen: torch.Generator, dev: torch.device, show: bool) -> tuple[torch.Tensor, int]:
    """One pass over ``batches``; returns (sample-weighted sums of loss, pose, occ; samples)."""
    model.train()
    sums = torch.zeros(3, dtype=torch.float64, device=dev)                  # loss, pose, occ
    n_samples = 0
    for step, index in enumerate(batches):
        batch = _augment(samples.batch(index), settings, gen).to(dev)
        opt.zero_grad(set_to_none=True)
        with autocast(dev):
            loss, pose_err, occ_err = _loss(net, model, batch, settings)
        loss.backward()
        opt.step()
        if settings.model == "linear" and settings.max_norm > 0:
            model.apply_max_norm(settings.max_norm)
        occ_err = occ_err.detach() if occ_err is not None else loss.new_zeros(())
        sums += torch.stack([loss.detach(), pose_err.detach(), occ_err]).double() * len(index)
        n_samples += len(index)
        if show and step % 20 == 0:
            batches.set_postfix(mpjpe_mm=f"{1000 * pose_err.item():.1f}")
    return sums, n_samples


def validation_mpjpe(model: nn.Module, prepared: list, skeleton: Skeleton,
                     device: torch.device) -> float:
    """MPJPE (mm, root-aligned, no flip) of an evaluation model over whole sequences."""
    total, count = 0.0, 0
    model.eval()
    for p in prepared:
        pred = root_relative(predict_sequence(model, p, skeleton, device))
        n = p.poses.shape[0] * p.poses.shape[1]
        total += float(mpjpe(pred, p.poses)) * n
        count += n
    return 1000.0 * total / max(count, 1)


def train_model(sequences_train: list[PoseSequence], sequences_val: list[PoseSequence] | None,
                settings: RunSettings, out_dir: str | Path, *, device: str = "auto",
                overwrite: bool = False, progress: bool = True) -> RunResult:
    """Train (or resume) one run into ``out_dir`` (module docstring).

    Args:
        sequences_train: training sequences (the benchmark's ``train`` split, all levels).
        sequences_val: sequences for the per-epoch validation MPJPE, or None to hold out
            ``settings.validation`` of the training clips (:func:`validation_split`). Never pass
            the test split: nothing chosen while training may depend on it.
        settings: the run; validated here, ``skeleton`` filled from the joint count.
        out_dir: the run directory RUN.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
        overwrite: replace a run with different settings in ``out_dir``.
        progress: tqdm progress bar and a line per epoch on stderr.
    Raises:
        OccposeError: bad settings, a conflicting run directory, missing inputs.
    """
    if not sequences_train:
        raise OccposeError("no training sequences (is the data's train split empty?)")
    settings = replace(settings).validate()
    if sequences_val is None:
        sequences_train, sequences_val = validation_split(sequences_train, settings.validation)
    num_joints = _check_sequences(sequences_train, "training")
    skeleton = skeleton_for(num_joints, settings.skeleton)
    if skeleton.num_joints != num_joints:
        raise OccposeError(f"skeleton {skeleton.name} has {skeleton.num_joints} joints, the data "
                           f"{num_joints}")
    settings.skeleton = skeleton.name
    dev = resolve_device(device)
    info, dev = init_from_env(dev)
    try:
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()] \
            if dev.type == "cuda" else []
        with _deterministic(dev), torch.random.fork_rng(devices=devices):
            return _train(sequences_train, sequences_val or [], settings, Path(out_dir), dev,
                          info, skeleton, overwrite, progress)
    finally:
        shutdown(info)


def _train(sequences_train, sequences_val, settings: RunSettings, run_dir: Path,
           dev: torch.device, info: DistInfo, skeleton: Skeleton, overwrite: bool,
           progress: bool) -> RunResult:
    from tqdm import tqdm

    sequences_train = sorted(sequences_train, key=lambda s: s.id)    # order-independent runs
    ckpt = _open_run_dir(run_dir, settings, data_summary(sequences_train), overwrite, info)
    num_joints = skeleton.num_joints
    torch.manual_seed(key_seed(settings.seed, "init") % _SEED_MOD)
    model = build_train_model(settings, num_joints)
    train_prepared = prepare(sequences_train, settings)
    samples = EpochWindows(WindowSet(train_prepared, model.receptive_field(), padding_of(model)),
                           skeleton, settings.flip_augment)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, amsgrad=True)
    start, metrics = 0, []
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        if ckpt.get("running_bn"):            # precise BN replaced them at the end: resume as trained
            model.load_state_dict(ckpt["running_bn"], strict=False)
        opt.load_state_dict(ckpt["optimizer"])
        start, metrics = int(ckpt["epoch"]), list(ckpt["metrics"])
        set_rng_state(ckpt["rng"])
        if info.is_main:  # a crash between checkpoint and log leaves the log an epoch behind
            write_metrics_log(run_dir / METRICS_FILE, metrics)
    net = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None)
    val_prepared = prepare(sequences_val, settings) if info.is_main and sequences_val else []
    eval_model = build_eval_model(settings, num_joints).to(dev) if info.is_main else None
    sampler = DistributedSampler(range(len(samples)), num_replicas=info.world_size,
                                 rank=info.rank, shuffle=True,
                                 seed=key_seed(settings.seed, "shuffle") % 2 ** 31)
    show = progress and info.is_main
    name = f"{settings.model} seed {settings.seed}"
    running_bn = None
    for epoch in range(start, settings.epochs):
        t0 = time.perf_counter()
        lr = settings.lr * settings.lr_decay ** epoch
        for group in opt.param_groups:
            group["lr"] = lr
        momentum = bn_momentum(settings, epoch)
        model.set_bn_momentum(momentum)
        torch.manual_seed(key_seed(settings.seed, "dropout", epoch, info.rank) % _SEED_MOD)
        gen = torch.Generator().manual_seed(key_seed(settings.seed, "augment", epoch, info.rank)
                                            % _SEED_MOD)
        sampler.set_epoch(epoch)
        batches = _batches(sampler, settings.batch_size)
        bar = tqdm(batches, desc=f"{name} epoch {epoch + 1}/{settings.epochs}", disable=not show,
                   leave=False, file=sys.stderr, unit="batch")
        sums, n_samples = _run_epoch(net, model, opt, samples, bar, settings, gen, dev, show)
        bar.close()
        broadcast_buffers(model, info)
        train_s = time.perf_counter() - t0
        totals = torch.cat([sums, sums.new_tensor([n_samples])])
        all_reduce_sum(totals, info)                                        # every rank's batches
        sums, n_samples = (totals[:3] / max(totals[3].item(), 1)).tolist(), int(totals[3].item())
        if epoch + 1 == settings.epochs and settings.bn_stats == "precise":
            running_bn = _bn_buffers(model)
            precise_bn(model, samples, settings.batch_size, dev, settings.seed)
            broadcast_buffers(model, info)
        entry = {"epoch": epoch + 1, "loss": sums[0], "train_mpjpe_mm": 1000 * sums[1],
                 "lr": lr, "bn_momentum": momentum, "samples": n_samples}
        if settings.uses_occlusion:
            entry["occlusion_l1"] = sums[2]
        if eval_model is not None:
            eval_model.load_state_dict(model.state_dict())
            entry["train_eval_mpjpe_mm"] = validation_mpjpe(eval_model, train_prepared, skeleton, dev)
            if val_prepared:
                entry["val_mpjpe_mm"] = validation_mpjpe(eval_model, val_prepared, skeleton, dev)
        entry["time_s"] = train_s
        metrics.append(entry)
        if info.is_main:
            save_checkpoint(run_dir / CHECKPOINT_FILE, {
                "epoch": epoch + 1, "model": model.state_dict(), "optimizer": opt.state_dict(),
                "lr": lr, "rng": rng_state(), "settings": settings.to_dict(), "metrics": metrics,
                "running_bn": running_bn or {}})
            write_metrics_log(run_dir / METRICS_FILE, metrics)
            if show:
                val = f", val MPJPE {entry['val_mpjpe_mm']:.1f} mm" if "val_mpjpe_mm" in entry else ""
                tqdm.write(f"{name} epoch {epoch + 1}/{settings.epochs}: train MPJPE "
                           f"{entry['train_mpjpe_mm']:.1f} mm (eval mode "
                           f"{entry['train_eval_mpjpe_mm']:.1f}){val}, lr {lr:.2e}, "
                           f"{entry['time_s']:.1f} s", file=sys.stderr)
        barrier(info)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return RunResult(run_dir, settings, settings.epochs, start, metrics, str(dev),
                     info.world_size, state)
