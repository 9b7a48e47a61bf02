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
* labelling: Blender ray-cast labels vs the analytic ``label_visibility`` (frames per second),
  the pipeline's ``BatchRayCaster`` (new) against the reference ``RayCaster`` (one
  ``scene.ray_cast`` per hit, the code before issue 16) on the same frames in the same run, with
  the ratio, both with and without ``scene.frame_set``, and the number of joint-frames whose
  labels differ between the two (0 expected);
* agreement of the Blender labels with the analytic ones, per level (joint-frames with the same
  state: visible / body / object / out of frame).

``--labels-only`` skips rendering and only measures labelling and agreement (for many sequences).

``--stage`` times the whole Blender stage instead (``render_bench.py`` on ``--config`` with
``--set`` overrides, e.g. the quick preset restricted to one test subject and action), once
with the code of ``--baseline`` (default 816abbc, before issue 16; its tree is extracted with
``git archive`` into a temporary folder) and once with the current code, each in a child
process, and prints wall and CPU seconds, the ratios, and whether the two outputs are the same
bytes (every file under ``sequences/``)::

    .venv/bin/python benchmark/bench_render.py --stage --set "render.subjects=['S4']" \
        --set "benchmark.actions=['walk']"
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
        _time_casters(scene, inputs, job.params, t)
        b0 = time.perf_counter()
        labels.label_scene(scene, job.caster, inputs.joints_cam, inputs.body, inputs.camera)
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


def _time_casters(scene, inputs, params, t: dict) -> None:
    """Reference vs batch caster on every frame of a built sequence: seconds with and without
    ``frame_set`` (added to ``t``) and joint-frames whose labels differ."""
    import numpy as np

    origin = np.asarray(inputs.camera.position, np.float64)
    blockers = bridge.blockers(scene)
    targets = labels.targets_world(inputs.joints_cam, inputs.body.joint_radius, inputs.camera, params)
    casters = {"old": labels.RayCaster(scene, blockers, inputs.body.incidence, params, origin),
               "new": labels.BatchRayCaster(scene, blockers, inputs.body.incidence, params, origin)}
    counts = {name: [] for name in casters}
    for f in range(inputs.n_frames):
        s0 = time.perf_counter()
        scene.frame_set(f)
        t["frame_set"] = t.get("frame_set", 0.0) + time.perf_counter() - s0
        for name, caster in casters.items():
            c0, p0 = time.perf_counter(), time.process_time()
            counts[name].append(caster.frame_counts(targets[f]))
            t[f"cast_{name}"] = t.get(f"cast_{name}", 0.0) + time.perf_counter() - c0
            t[f"cpu_{name}"] = t.get(f"cpu_{name}", 0.0) + time.process_time() - p0
    t["differ"] = t.get("differ", 0) + int(sum(
        ((a[0] != b[0]) | (a[1] != b[1])).sum() for a, b in zip(counts["old"], counts["new"])))
    t["joint_frames"] = t.get("joint_frames", 0) + inputs.n_frames * inputs.body.skeleton.num_joints


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
        _time_casters(scene, inputs, params, t)
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
    t["level_joint_frames"] = {lv: sum(n for n, _ in v) for lv, v in agree.items()}
    return t


def print_labelling(t: dict) -> None:
    n = t["n"]
    old, new, fs = t["cast_old"], t["cast_new"], t["frame_set"]
    print(f"labelling, Blender ray casts:   {n / t['blender_labels']:8.1f} frames/s (label_scene, "
          "batch caster, frame_set included)")
    print(f"  reference caster (old):       {n / old:8.1f} frames/s casting only, "
          f"{n / (old + fs):8.1f} with frame_set")
    print(f"  batch caster (new):           {n / new:8.1f} frames/s casting only, "
          f"{n / (new + fs):8.1f} with frame_set")
    print(f"  ratio new/old:                {old / new:8.2f} x casting only, "
          f"{(old + fs) / (new + fs):8.2f} x with frame_set "
          f"({t['differ']} of {t['joint_frames']} joint-frames with different counts)")
    print(f"  per CPU-second (casting only): old {n / t['cpu_old']:8.1f}, new {n / t['cpu_new']:8.1f} "
          f"frames/s, ratio {t['cpu_old'] / t['cpu_new']:.2f} x (less skewed by other processes)")
    print(f"labelling, analytic (numpy):    {n / t['analytic_labels']:8.1f} frames/s")
    print("agreement with analytic labels (joint-frames, same state):")
    for lv, a in sorted(t["agreement"].items()):
        count = f" of {t['level_joint_frames'][lv]} joint-frames" if "level_joint_frames" in t else ""
        print(f"  level {lv:.2f}: {100 * a:.2f} %{count}")


def _stage(config: str, overrides: list[str], root: Path, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one ``render_bench.py`` child process run from ``root``."""
    import os
    import resource
    import subprocess

    cmd = [sys.executable, str(root / "benchmark" / "render_bench.py"), "--config", config,
           "--out", str(out), "--quiet"] + [x for kv in overrides for x in ("--set", kv)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=str(root)), cwd=root,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def stage(config: str, overrides: list[str], baseline: str) -> int:
    """Old (``baseline`` revision) vs current Blender stage, same inputs, same run."""
    import io
    import os
    import subprocess
    import tarfile

    def files(root: Path) -> dict[str, bytes]:
        base = root / "sequences"
        return {str(f.relative_to(base)): f.read_bytes() for f in sorted(base.rglob("*")) if f.is_file()}

    config = str(Path(config).resolve())
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: wall times on a loaded "
          "machine are inflated; CPU seconds are skewed less; the ratios are of one run")
    with tempfile.TemporaryDirectory(prefix="occpose-stage-") as tmp:
        tmp = Path(tmp)
        tar = subprocess.run(["git", "-C", str(REPO), "archive", baseline], check=True,
                             capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            archive.extractall(tmp / "old", filter="data")
        old = _stage(config, overrides, tmp / "old", tmp / "out_old")
        new = _stage(config, overrides, REPO, tmp / "out_new")
        same = files(tmp / "out_old") == files(tmp / "out_new")
        n = len(list((tmp / "out_new" / "sequences").iterdir()))
    print(f"Blender stage, {n} sequences of {config} {' '.join(overrides)}")
    print(f"  old ({baseline}): {old[0]:8.1f} s wall {old[1]:8.1f} s CPU")
    print(f"  new (current):  {new[0]:8.1f} s wall {new[1]:8.1f} s CPU")
    print(f"  ratio old/new:  {old[0] / new[0]:8.2f} x wall {old[1] / new[1]:6.2f} x CPU; "
          f"outputs {'identical' if same else 'DIFFER'} (every file under sequences/)")
    return 0 if same else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(REPO / "scenes" / "quick.toml"))
    p.add_argument("--engine", choices=("cycles", "workbench", "eevee"))
    p.add_argument("--samples", type=int)
    p.add_argument("--frames", type=int, default=30, help="frames per sequence (default 30)")
    p.add_argument("--levels", type=float, nargs="+", help="levels (default: the preset's)")
    p.add_argument("--sequences", type=int, default=1, help="subject/action pairs per level")
    p.add_argument("--labels-only", action="store_true", help="no rendering: labelling and agreement")
    p.add_argument("--stage", action="store_true",
                   help="time the whole Blender stage, --baseline code vs current (see above)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="preset overrides for --stage (repeatable)")
    p.add_argument("--baseline", default="816abbc", help="git revision of the 'old' code (--stage)")
    args = p.parse_args(argv)
    if args.stage:
        return stage(args.config, args.overrides, args.baseline)
    overrides = [f"benchmark.frames={args.frames}", "render.frame_stride=1"]
    overrides += [f"render.engine={args.engine}"] if args.engine else []
    overrides += [f"render.samples={args.samples}"] if args.samples else []
    cfg = load_config(args.config, overrides)
    levels = args.levels if args.levels is not None else cfg.benchmark.levels
    keys = keys_of(cfg, levels, args.sequences)
    rs = cfg.render
    import os

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: absolute figures on a "
          "loaded machine are inflated; the old/new ratios are measured in the same run")
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
