"""Throughput of the Blender backend, and Blender vs analytic labels per occlusion level.

Usage (from the repository root; the bpy module, i.e. ``pip install 'occpose[blender]'``):

    .venv/bin/python benchmark/bench_render.py                       # quick.toml, its engine
    .venv/bin/python benchmark/bench_render.py --engine cycles --samples 16 --frames 20
    .venv/bin/python benchmark/bench_render.py --config scenes/quick.toml --frames 30 \
        --levels 0 0.1 0.2 0.3 0.4 0.5 --sequences 2
    .venv/bin/python benchmark/bench_render.py --labels-only --frames 150 --sequences 10

One sequence per (level, first cameras) -- ``--sequences`` subject/action pairs per level --
with ``--frames`` frames each, every frame rendered at the preset's render resolution. Prints:

* pipeline: labelled-and-rendered frames per second of ``blender_addon.pipeline`` end to end
  (Blender ray casts, masks, render, PNG writing), with and without the per-sequence work
  (occluder placement by the analytic search, scene building);
* raw engine: ``bpy.ops.render.render`` alone on the same frames of the same scenes, and the
  pipeline's per-frame overhead over it;
* labelling: Blender ray-cast labels vs the analytic ``label_visibility`` (frames per second);
* agreement of the Blender labels with the analytic ones, per level (joint-frames with the same
  state: visible / body / object / out of frame).

``--labels-only`` skips rendering and only measures labelling and agreement (for many sequences).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from occpose.config import load_config  # noqa: E402
from occpose.generate import SequenceKey, motion_world, visibility_params  # noqa: E402
from occpose.occlusion.raycast.visibility import label_visibility  # noqa: E402

from blender_addon import bridge, labels, render, sequence  # noqa: E402


def keys_of(cfg, levels, n_pairs: int) -> list[SequenceKey]:
    b = cfg.benchmark
    pairs = [(s, a) for s in (*b.train_subjects, *b.test_subjects) for a in b.actions][:n_pairs]
    return [SequenceKey(s, a, cfg.cameras[0].name, float(lv)) for lv in levels for s, a in pairs]


def timed_pipeline(cfg, keys, out: Path) -> dict:
    """The real per-frame pipeline (SequenceRender.step) on each key, timed by stage."""
    scene = bridge.ensure_scene()
    render.configure(scene, cfg.render, seed=0)
    cams = {c.name: c for c in cfg.camera_objects(rendered=True)}
    full = {c.name: c for c in cfg.camera_objects()}
    t = {"place": 0.0, "build": 0.0, "frames": 0.0, "raw": 0.0, "blender_labels": 0.0,
         "analytic_labels": 0.0, "n": 0}
    agree: dict[float, list[float]] = {}
    for key in keys:
        joints = motion_world(cfg, key.subject, key.action)
        t0 = time.perf_counter()
        inputs = sequence.place(cfg, key, joints, cams[key.camera], full[key.camera])
        t1 = time.perf_counter()
        sequence.build_scene(scene, cfg, inputs)
        job = sequence.SequenceRender(scene, cfg, inputs, out / key.id, sequence.rendered_frames(cfg))
        t2 = time.perf_counter()
        for f in range(inputs.n_frames):
            job.step(f)
        t3 = time.perf_counter()
        for f in range(inputs.n_frames):  # the raw engine on the same frames
            scene.frame_set(f)
            r0 = time.perf_counter()
            render.render_only(scene)
            t["raw"] += time.perf_counter() - r0
        lab = job.labels()
        agree.setdefault(key.level, []).append(labels.agreement(lab, inputs.analytic))
        caster = job.caster
        b0 = time.perf_counter()
        labels.label_scene(scene, caster, inputs.joints_cam, inputs.body, inputs.camera)
        b1 = time.perf_counter()
        occ = inputs.occluders.in_camera_frame(inputs.camera)
        label_visibility(inputs.joints_cam, inputs.body, inputs.camera, occ, job.params)
        b2 = time.perf_counter()
        t["place"] += t1 - t0
        t["build"] += t2 - t1
        t["frames"] += t3 - t2
        t["blender_labels"] += b1 - b0
        t["analytic_labels"] += b2 - b1
        t["n"] += inputs.n_frames
        print(f"  {key.id}: {inputs.n_frames} frames, placement {t1 - t0:.1f} s, build {t2 - t1:.2f} s, "
              f"frames {t3 - t2:.1f} s, labels agree {100 * agree[key.level][-1]:.2f} %", flush=True)
    bridge.clear(scene)
    t["agreement"] = {lv: float(np.mean(v)) for lv, v in agree.items()}
    return t


def labels_only(cfg, keys) -> dict:
    """Blender vs analytic labels of each key (no rendering), timed."""
    scene = bridge.ensure_scene()
    cams = {c.name: c for c in cfg.camera_objects(rendered=True)}
    full = {c.name: c for c in cfg.camera_objects()}
    t = {"blender_labels": 0.0, "analytic_labels": 0.0, "n": 0}
    agree: dict[float, list[tuple[int, float]]] = {}
    params = visibility_params(cfg)
    for key in keys:
        inputs = sequence.place(cfg, key, motion_world(cfg, key.subject, key.action), cams[key.camera],
                                full[key.camera])
        sequence.build_scene(scene, cfg, inputs)
        caster = sequence.ray_caster(scene, inputs, params)
        b0 = time.perf_counter()
        lab = labels.label_scene(scene, caster, inputs.joints_cam, inputs.body, inputs.camera)
        b1 = time.perf_counter()
        occ = inputs.occluders.in_camera_frame(inputs.camera)
        ref = label_visibility(inputs.joints_cam, inputs.body, inputs.camera, occ, params)
        b2 = time.perf_counter()
        t["blender_labels"] += b1 - b0
        t["analytic_labels"] += b2 - b1
        t["n"] += inputs.n_frames
        agree.setdefault(key.level, []).append((lab.occluded.size, labels.agreement(lab, ref)))
    bridge.clear(scene)
    t["agreement"] = {lv: sum(n * a for n, a in v) / sum(n for n, _ in v) for lv, v in agree.items()}
    t["joint_frames"] = {lv: sum(n for n, _ in v) for lv, v in agree.items()}
    return t


def print_labelling(t: dict) -> None:
    n = t["n"]
    print(f"labelling, Blender ray casts:   {n / t['blender_labels']:8.1f} frames/s")
    print(f"labelling, analytic (numpy):    {n / t['analytic_labels']:8.1f} frames/s")
    print("agreement with analytic labels (joint-frames, same state):")
    for lv, a in sorted(t["agreement"].items()):
        count = f" of {t['joint_frames'][lv]} joint-frames" if "joint_frames" in t else ""
        print(f"  level {lv:.2f}: {100 * a:.2f} %{count}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(REPO / "scenes" / "quick.toml"))
    p.add_argument("--engine", choices=("cycles", "workbench", "eevee"))
    p.add_argument("--samples", type=int)
    p.add_argument("--frames", type=int, default=30, help="frames per sequence (default 30)")
    p.add_argument("--levels", type=float, nargs="+", help="levels (default: the preset's)")
    p.add_argument("--sequences", type=int, default=1, help="subject/action pairs per level")
    p.add_argument("--labels-only", action="store_true", help="no rendering: labelling and agreement")
    args = p.parse_args(argv)
    overrides = [f"benchmark.frames={args.frames}", "render.frame_stride=1"]
    overrides += [f"render.engine={args.engine}"] if args.engine else []
    overrides += [f"render.samples={args.samples}"] if args.samples else []
    cfg = load_config(args.config, overrides)
    levels = args.levels if args.levels is not None else cfg.benchmark.levels
    keys = keys_of(cfg, levels, args.sequences)
    rs = cfg.render
    print(f"{cfg.source}: {len(keys)} sequences x {args.frames} frames, {rs.engine} "
          f"{rs.resolution[0]}x{rs.resolution[1]}, {rs.samples} samples, {cfg.visibility.rays} rays/joint")
    if args.labels_only:
        print_labelling(labels_only(cfg, keys))
        return 0
    with tempfile.TemporaryDirectory(prefix="occpose-bench-render-") as tmp:
        t = timed_pipeline(cfg, keys, Path(tmp))
    n = t["n"]
    total = t["place"] + t["build"] + t["frames"]
    overhead = (t["frames"] - t["raw"]) / t["raw"]
    print(f"pipeline, labelled + rendered:  {n / total:8.2f} frames/s end to end "
          f"(placement {t['place']:.1f} s, scene building {t['build']:.1f} s)")
    print(f"pipeline, per-frame work:       {n / t['frames']:8.2f} frames/s "
          f"(labels + masks + render + PNGs)")
    print(f"raw engine (render.render):     {n / t['raw']:8.2f} frames/s   "
          f"-> per-frame overhead {100 * overhead:.1f} %")
    print_labelling(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
