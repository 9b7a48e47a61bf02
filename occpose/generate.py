"""Generating a benchmark with the analytic backend: motion, cameras, occluders, labels.

Work is planned as sequence keys (subject, action, camera, level). Random streams come from keys,
never from the order of generation:

* motion: ``key_rng(seed, "motion", subject, action)`` -- one clip per (subject, action), seen by
  every camera at every level, like a multi-view capture;
* occluders: ``key_rng(seed, "occluders", subject, action, camera, level)``.

So any slice (``--shard``, a resumed run, one sequence) regenerates alone with the same bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .camera import Camera, project_to_2d, world_to_camera
from .config import Config
from .dataset import BenchmarkWriter, SequenceEntry, sequence_id
from .rng import key_rng
from .skeleton import H36M_17, convert_joints, get_skeleton


@dataclass(frozen=True)
class SequenceKey:
    subject: str
    action: str
    camera: str
    level: float

    @property
    def id(self) -> str:
        return sequence_id(self.subject, self.action, self.camera, self.level)


def plan(cfg: Config, subjects: list[str] | None = None) -> list[SequenceKey]:
    """All sequence keys of a preset in canonical order (subject, action, camera, level),
    optionally only those of ``subjects``."""
    b = cfg.benchmark
    return [SequenceKey(s, a, c.name, float(lv))
            for s in (*b.train_subjects, *b.test_subjects) if not subjects or s in subjects
            for a in b.actions for c in cfg.cameras for lv in b.levels]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/N"`` (0 <= i < N) -> (i, N); None passes through."""
    if text is None:
        return None
    from .errors import ConfigError

    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected i/N with integers, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise ConfigError(f"--shard {text!r}: expected 0 <= i < N")
    return i, n


def shard_keys(keys: list[SequenceKey], shard: tuple[int, int] | None) -> list[SequenceKey]:
    """A deterministic slice: whole (subject, action) groups, dealt round-robin to shards."""
    if shard is None:
        return keys
    i, n = shard
    groups = list(dict.fromkeys((k.subject, k.action) for k in keys))
    mine = {g for j, g in enumerate(groups) if j % n == i}
    return [k for k in keys if (k.subject, k.action) in mine]


def split_of(cfg: Config, subject: str) -> str:
    return "train" if subject in cfg.benchmark.train_subjects else "test"


def motion_world(cfg: Config, subject: str, action: str) -> np.ndarray:
    """(T, 17, 3) world joints of a (subject, action) clip, rounded to float32 precision.

    Rounding first means every label derived from the stored float32 joints is re-derivable
    exactly from the files.
    """
    from .motion import generate_motion

    b = cfg.benchmark
    clip = generate_motion(action, cfg.subject(subject), b.frames, b.fps,
                           key_rng(b.seed, "motion", subject, action), area_radius=b.area_radius)
    return clip.joints_world.astype(np.float32).astype(np.float64)


def visibility_params(cfg: Config):
    """The preset's ``[visibility]`` as :class:`~occpose.occlusion.raycast.visibility.VisibilityParams`."""
    from .occlusion.raycast.visibility import VisibilityParams

    v = cfg.visibility
    return VisibilityParams(v.rays, v.disk_fraction, v.tolerance)


def place_sequence(cfg: Config, key: SequenceKey, joints_world: np.ndarray, camera: Camera):
    """Occluders of one sequence with its own random stream: the one placement both backends use.

    Args:
        joints_world: (T, 17, 3) float64 (float32-exact) world joints of the clip.
        camera: the preset's camera (not the render-resolution one).
    Returns:
        :class:`~occpose.occlusion.occluders.placement.Placement` (occluders, analytic labels, steps).
    """
    from .occlusion.occluders.placement import place_occluders

    b = cfg.benchmark
    rng = key_rng(b.seed, "occluders", key.subject, key.action, key.camera, key.level)
    return place_occluders(joints_world, cfg.body_model(key.subject), camera, key.level, rng,
                           cfg.occluders, visibility_params(cfg), sequence=key.id, fps=b.fps,
                           base_dir=Path(cfg.source).parent, skeleton=get_skeleton(b.skeleton))


def make_sequence(cfg: Config, key: SequenceKey, joints_world: np.ndarray,
                  camera: Camera) -> tuple[SequenceEntry, dict[str, np.ndarray]]:
    """Occluders, labels and arrays of one sequence (analytic backend).

    Args:
        joints_world: (T, 17, 3) float64 (float32-exact) world joints of the clip.
    """
    placed = place_sequence(cfg, key, joints_world, camera)
    return sequence_record(cfg, key, joints_world, camera, placed.labels, placed.occluders,
                           placed.steps)


def sequence_record(cfg: Config, key: SequenceKey, joints_world: np.ndarray, camera: Camera,
                    labels, occluders, steps: int, extra_arrays: dict | None = None,
                    extra: dict | None = None) -> tuple[SequenceEntry, dict[str, np.ndarray]]:
    """The manifest entry and arrays (dataset format) of one labelled sequence; both backends
    write through here.

    Args:
        joints_world: (T, 17, 3) world joints; labels: their
            :class:`~occpose.occlusion.raycast.visibility.VisibilityLabels`; occluders: the placed
            :class:`~occpose.occlusion.occluders.geometry.OccluderSet`; steps: placement search steps.
        extra_arrays: backend arrays, stored after the heuristic labels and before the occluder
            geometry (the npz member order, and so the bytes, depend on it).
        extra: backend summary added to the entry's ``extra``.
    """
    from .occlusion.heuristics.labels import heuristic_labels

    joints_cam = world_to_camera(joints_world, camera)
    joints_2d = project_to_2d(joints_cam, camera)
    arrays = {
        "joints_3d_world": joints_world.astype(np.float32),
        "joints_3d_cam": joints_cam.astype(np.float32),
        "joints_2d": joints_2d.astype(np.float32),
        **labels.to_arrays(),
        **heuristic_labels(joints_cam, joints_2d, camera, cfg.heuristics),
        **(extra_arrays or {}),
        **occluders.to_arrays(),
    }
    skeleton = get_skeleton(cfg.benchmark.skeleton)
    if skeleton.name != H36M_17.name:
        arrays = to_layout(arrays, skeleton)
    entry = SequenceEntry(
        id=key.id, subject=key.subject, action=key.action, camera=key.camera,
        split=split_of(cfg, key.subject), target_level=key.level, frames=len(joints_world),
        path="", sha256="", achieved_level=float(arrays["occluder_fraction"].mean()),
        self_occlusion=float(arrays["self_occlusion_fraction"].mean()),
        extra={"occluders": int(occluders.group.max() + 1) if occluders.num_primitives else 0,
               "search_steps": steps, **(extra or {})})
    return entry, arrays


def to_layout(arrays: dict[str, np.ndarray], skeleton) -> dict[str, np.ndarray]:
    """Map per-joint arrays from the 17-joint generation layout to ``skeleton``'s layout.

    Fractions (occluder_fraction, self_occlusion_fraction) are recomputed over the new joints.
    """
    out = {}
    for name, arr in arrays.items():
        if name.startswith("occluder_") and name != "occluder_fraction":
            out[name] = arr
        elif arr.ndim >= 2 and arr.shape[1] == H36M_17.num_joints:
            out[name] = convert_joints(arr[..., None] if arr.ndim == 2 else arr, H36M_17, skeleton)
            if arr.ndim == 2:
                out[name] = out[name][..., 0]
        else:
            out[name] = arr
    out["occluder_fraction"] = out["occluded_by_object"].mean(axis=1).astype(np.float32)
    out["self_occlusion_fraction"] = out["occluded_by_body"].mean(axis=1).astype(np.float32)
    return out


def _group_job(args) -> list[tuple[SequenceEntry, dict]]:
    """Worker: one (subject, action) clip and all its planned camera x level sequences."""
    cfg, keys, clip = args
    joints_world = clip if clip is not None else motion_world(cfg, keys[0].subject, keys[0].action)
    cams = {c.name: c for c in cfg.camera_objects()}
    return [make_sequence(cfg, k, joints_world, cams[k.camera]) for k in keys]


def generate(cfg: Config, out: str | Path, overwrite: bool = False, shard: tuple[int, int] | None = None,
             workers: int = 0, progress: bool = True,
             on_sequence: Callable[[SequenceEntry], None] | None = None,
             clips: dict[tuple[str, str], np.ndarray] | None = None, force_size: bool = False,
             extra: dict | None = None) -> dict:
    """Generate (or resume) a benchmark directory; returns the manifest.

    Args:
        workers: processes for independent (subject, action) groups; 0 = one per CPU core.
        shard: ``(i, N)`` to generate a deterministic slice (see :func:`shard_keys`).
        clips: imported motion instead of procedural: ``{(subject, action): (T, 17, 3) world
            joints}`` (e.g. from BVH); each must have ``cfg.benchmark.frames`` frames.
        force_size: go ahead when the size estimate (:mod:`occpose.sizes`) says the run cannot
            fit on this machine; without it such a run is refused before anything is written.
        extra: top-level manifest fields (e.g. ``convert bvh``'s ``"import"`` record).
    """
    from .sizes import check, generate_estimate

    planned = shard_keys(plan(cfg), shard)
    n_jobs = len({(k.subject, k.action) for k in planned})
    check(generate_estimate(cfg, len(planned), workers or min(os.cpu_count() or 1, max(1, n_jobs))),
          out, force_size)
    clips = {k: np.asarray(v, dtype=np.float32).astype(np.float64) for k, v in (clips or {}).items()}
    from tqdm import tqdm

    writer = BenchmarkWriter(out, cfg, overwrite=overwrite, backend="analytic", extra=extra)
    with writer:
        keys = shard_keys(plan(cfg), shard)
        todo = [k for k in keys if writer.completed_entry(k.id) is None]
        groups: dict[tuple[str, str], list[SequenceKey]] = {}
        for k in todo:
            groups.setdefault((k.subject, k.action), []).append(k)
        jobs = [(cfg, ks, clips.get(g)) for g, ks in groups.items()]
        workers = workers or min(os.cpu_count() or 1, max(1, len(jobs)))
        bar = tqdm(total=len(keys), initial=len(keys) - len(todo), unit="seq", desc="generate",
                   disable=not progress, dynamic_ncols=True)
        try:
            for results in _map(_group_job, jobs, workers):
                for entry, arrays in results:
                    writer.write_sequence(entry, arrays)
                    if on_sequence:
                        on_sequence(entry)
                    bar.update(1)
        finally:
            bar.close()
        return writer.finalize([k.id for k in keys])


def _map(fn, jobs: list, workers: int) -> Iterable:
    if workers <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor  # imported here: at module level it crashes Blender 3.4 at exit

    ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield from pool.map(fn, jobs)
