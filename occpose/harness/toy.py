"""Tiny synthetic benchmarks for the harness's tests and benchmarks (no generator needed).

A 17-joint stick figure walks a circle while swinging its limbs; a vertical bar sweeping across
the image "occludes" the joints behind it, wider for higher levels. Arrays follow the dataset
format (``occpose/dataset/schema.py``), so :func:`write_toy_benchmark` makes a valid benchmark
directory, and :func:`toy_sequences` the same data as in-memory PoseSequences. Not realistic:
fast, deterministic, and learnable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..camera import Camera, in_frame, look_at, project_to_2d, world_to_camera
from ..dataset.manifest import sequence_id
from ..dataset.poses import LABEL_ARRAYS, PoseSequence
from ..rng import key_rng
from ..skeleton import H36M_17

__all__ = ["toy_arrays", "toy_sequences", "toy_config", "write_toy_benchmark"]

# Bone offsets from the parent (metres, world frame, person facing -y, Z up), H36M_17 order.
_OFFSETS = np.array([
    [0, 0, 0], [-0.12, 0, 0], [0, 0, -0.44], [0, 0, -0.42], [0.12, 0, 0], [0, 0, -0.44],
    [0, 0, -0.42], [0, 0, 0.24], [0, 0, 0.24], [0, -0.04, 0.10], [0, 0, 0.12], [0.17, 0, 0],
    [0, 0, -0.28], [0, 0, -0.25], [-0.17, 0, 0], [0, 0, -0.28], [0, 0, -0.25]], dtype=np.float64)
# Swing amplitude (radians) and phase per joint's bone: legs and arms counter-swing.
_SWING = {2: (0.5, 0.0), 3: (0.3, 0.5), 5: (0.5, np.pi), 6: (0.3, np.pi + 0.5),
          12: (0.6, np.pi), 13: (0.4, np.pi + 0.4), 15: (0.6, 0.0), 16: (0.4, 0.4)}
_ACTION_SPEED = {"walk": 1.0, "jog": 1.8, "box": 2.5, "gesture": 0.6, "throw_catch": 1.3,
                 "sit_down": 0.4}
TOY_HEIGHTS = {"S1": 1.55, "S2": 1.68, "S3": 1.81, "S4": 1.63, "S5": 1.74}
CAMERAS = {"cam0": ([3.6, 3.4, 1.6], [0.0, 0.0, 1.0]), "cam2": ([-3.7, -3.3, 1.65], [0.0, 0.0, 1.0])}


def toy_camera(name: str, size: int = 1000) -> Camera:
    pos, target = CAMERAS[name]
    return Camera(name, size, size, 1.145 * size, 1.145 * size, size / 2, size / 2,
                  look_at(pos, target), np.array(pos, dtype=np.float64))


def _motion(subject: str, action: str, frames: int, fps: float) -> np.ndarray:
    """(T, 17, 3) world joints of a stick figure walking a circle."""
    scale = TOY_HEIGHTS.get(subject, 1.7) / 1.75
    speed = _ACTION_SPEED.get(action, 1.0)
    rng = key_rng("toy-motion", subject, action)
    phase0 = rng.uniform(0, 2 * np.pi)
    t = np.arange(frames) / fps
    w = 2 * np.pi * speed * t + phase0                                          # (T,)
    yaw = 0.3 * speed * t + phase0
    root = np.stack([0.6 * np.cos(yaw), 0.6 * np.sin(yaw), 0.95 * scale + 0.03 * np.sin(2 * w)], -1)
    cy, sy = np.cos(yaw), np.sin(yaw)
    out = np.zeros((frames, 17, 3))
    out[:, 0] = root
    for j, parent in enumerate(H36M_17.parents):
        if parent < 0:
            continue
        amp, ph = _SWING.get(j, (0.05, 0.3 * j))
        a = amp * np.sin(w + ph)                                                # (T,)
        off = _OFFSETS[j] * scale
        # swing about the body's x axis, then turn with the walking direction (yaw about z)
        y = off[1] * np.cos(a) - off[2] * np.sin(a)
        z = off[1] * np.sin(a) + off[2] * np.cos(a)
        x = np.full_like(a, off[0])
        out[:, j] = out[:, parent] + np.stack([cy * x - sy * y, sy * x + cy * y, z], -1)
    return out.astype(np.float32)


def toy_arrays(subject: str, action: str, camera: Camera, level: float, frames: int = 60,
               fps: float = 50.0) -> dict[str, np.ndarray]:
    """Dataset-format arrays of one toy sequence (labels from a sweeping vertical bar)."""
    world = _motion(subject, action, frames, fps)
    cam = world_to_camera(world, camera).astype(np.float32)
    px = project_to_2d(cam, camera).astype(np.float32)
    inside = in_frame(px, camera, cam)
    t = np.arange(frames)
    center = camera.width * (0.5 + 0.4 * np.sin(2 * np.pi * t / max(frames, 2)))   # (T,)
    half = 0.5 * level * camera.width * 0.6
    covered = np.abs(px[..., 0] - center[:, None]) < half                          # (T, J)
    rng = key_rng("toy-labels", subject, action, camera.name, level)
    by_body = (rng.random(covered.shape) < 0.03) & ~covered
    vis = np.where(covered | by_body, 0.2, 0.9).astype(np.float32)
    occluded = (vis < 0.5) & inside
    flips = rng.random((3, *covered.shape)) < 0.1
    j = covered.shape[1]
    return {
        "joints_3d_world": world, "joints_3d_cam": cam, "joints_2d": px, "visibility": vis,
        "occluded": occluded, "occluded_by_body": by_body & inside,
        "occluded_by_object": covered & inside, "out_of_frame": ~inside,
        "occluder_fraction": ((covered & inside).sum(1) / j).astype(np.float32),
        "self_occlusion_fraction": ((by_body & inside).sum(1) / j).astype(np.float32),
        "occluded_clustered": occluded ^ flips[0], "occluded_boxed": occluded ^ flips[1],
        "occluded_boxed_depth": occluded ^ flips[2],
    }


def toy_sequences(subjects=("S1", "S2"), actions=("walk", "box"), cameras=("cam0",),
                  levels=(0.0, 0.3), frames: int = 60, test_subjects=("S4",)) -> list[PoseSequence]:
    """PoseSequences of every (subject, action, camera, level); ``test_subjects`` split test."""
    out = []
    for s in (*subjects, *test_subjects):
        for a in actions:
            for c in cameras:
                cam = toy_camera(c)
                for lv in levels:
                    arr = toy_arrays(s, a, cam, lv, frames)
                    out.append(PoseSequence(
                        id=sequence_id(s, a, c, lv), subject=s, action=a, camera=c,
                        split="test" if s in test_subjects else "train", level=float(lv),
                        joints_3d_cam=arr["joints_3d_cam"], joints_2d=arr["joints_2d"],
                        width=cam.width, height=cam.height,
                        labels={k: arr[k] for k in LABEL_ARRAYS}))
    return out


def toy_config(subjects=("S1", "S2"), actions=("walk", "box"), cameras=("cam0",),
               levels=(0.0, 0.3), frames: int = 60, test_subjects=("S4",), train: dict | None = None):
    """A :class:`~occpose.config.Config` describing the toy benchmark."""
    from ..config import config_from_dict

    data = {
        "benchmark": {"name": "toy", "frames": frames, "actions": list(actions),
                      "levels": list(levels), "train_subjects": list(subjects),
                      "test_subjects": list(test_subjects)},
        "subjects": {s: {"height": TOY_HEIGHTS.get(s, 1.7)} for s in (*subjects, *test_subjects)},
        "cameras": [{"name": c, "position": CAMERAS[c][0], "target": CAMERAS[c][1]} for c in cameras],
    }
    if train:
        data["train"] = train
    return config_from_dict(data, "<toy>")


def write_toy_benchmark(root: str | Path, **kw) -> Path:
    """Write a valid benchmark directory of toy sequences (arguments as :func:`toy_config`)."""
    from ..dataset import BenchmarkWriter, SequenceEntry
    from ..generate import split_of

    cfg = toy_config(**kw)
    writer = BenchmarkWriter(root, cfg, overwrite=True)
    b = cfg.benchmark
    ids = []
    for s in (*b.train_subjects, *b.test_subjects):
        for a in b.actions:
            for cam in cfg.camera_objects():
                for lv in b.levels:
                    sid = sequence_id(s, a, cam.name, lv)
                    arr = toy_arrays(s, a, cam, lv, b.frames, b.fps)
                    entry = SequenceEntry(sid, s, a, cam.name, split_of(cfg, s), lv, b.frames, "", "",
                                          achieved_level=float(arr["occluder_fraction"].mean()))
                    writer.write_sequence(entry, arr)
                    ids.append(sid)
    writer.finalize(ids)
    return Path(root)
