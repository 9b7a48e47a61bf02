"""Throughput of the Blender backend, and Blender vs analytic labels per occlusion level.

Usage (from the repository root; the bpy module, i.e. ``pip install 'occpose[blender]'``):

    .venv/bin/python benchmark/bench_render.py                       # quick.toml, its engine
    .venv/bin/python benchmark/bench_render.py --engine cycles --samples 16 --frames 20
    .venv/bin/python benchmark/bench_render.py --config scenes/quick.toml --frames 30 \
        --levels 0 0.1 0.2 0.3 0.4 0.5 --sequences 2
    .venv/bin/python benchmark/bench_render.py --labels-only --frames 150 --sequences 10
    .venv/bin/python benchmark/bench_render.py --labels-only --frames 150 --sequences 2 --clip-baseline 3282476

One sequence per (level, first cameras) -- ``--sequences`` subject/action pairs per level --
with ``--frames`` frames each, every frame rendered at the preset's render resolution. Prints:

* pipeline: labelled-and-rendered frames per second of ``blender_addon.pipeline`` end to end
  (Blender ray casts, masks, render, PNG writing), with and without the per-sequence work
  (occluder placement by the analytic search, scene building);
* raw engine: ``bpy.ops.render.render`` alone on the same frames of the same scenes, and the
  pipeline's per-frame overhead over it;
* labelling: three Blender labellers on the same frames in the same run, sequence by sequence
  (alternating which goes first): the reference ``RayCaster`` (one ``scene.ray_cast`` per hit,
  ``frame_set`` per frame), main's ``BatchRayCaster`` at ``--caster-baseline`` (default b8d0c42:
  ``frame_set`` and per-frame casts, the module read from git) and the current one
  (``BatchRayCaster.clip_counts``: every frame read from the animation data), in frames per
  second of wall and of CPU time, with the ratios and the joint-frames whose counts differ
  (0 expected); with ``--clip-baseline REV``, also REV's ``clip_counts`` ("before", alternating
  with the current one, its own bodies reused); then the analytic ``label_visibility`` for scale;
* agreement of the Blender labels with the analytic ones, per level (joint-frames with the same
  state: visible / body / object / out of frame).

The sequences run clip by clip (all levels of a subject, action and camera in a row), as the
pipeline does: the scene is built once per clip and camera and only the occluders are swapped
between levels, each caster reusing its predecessor's body (``reuse``).

``--labels-only`` skips rendering and only measures labelling and agreement (for many sequences).

``--stage`` times the whole Blender stage instead (``render_bench.py`` on ``--config`` with
``--set`` overrides and ``--shard``, e.g. the quick preset restricted to one test subject and
action), once with the code of ``--baseline`` (default 816abbc, before issue 16; its tree is
extracted with ``git archive`` into a temporary folder) and once with the current code, each in
a child process, and prints wall and CPU seconds, the ratios, and whether the two outputs are
the same bytes (every file under ``sequences/``)::

    .venv/bin/python benchmark/bench_render.py --stage --set "render.subjects=['S4']" \
        --set "benchmark.actions=['walk']"
    .venv/bin/python benchmark/bench_render.py --stage --set "render.subjects=['S4']" \
        --shard 1/12 --baseline 3282476   # the masks before frame_masks (bench_masks.py)
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
from occpose.occlusion.raycast.visibility import (label_visibility, labels_from_counts,  # noqa: E402
                                                 out_of_frame_mask)

from blender_addon import bridge, labels, render, sequence  # noqa: E402
from gitrev import module_at  # noqa: E402  (benchmark/)


def keys_of(cfg, levels, n_pairs: int) -> list[SequenceKey]:
    """``n_pairs`` subject/action pairs on the first camera, every level, clip by clip."""
    b = cfg.benchmark
    pairs = [(s, a) for s in (*b.train_subjects, *b.test_subjects) for a in b.actions][:n_pairs]
    return [SequenceKey(s, a, cfg.cameras[0].name, float(lv)) for s, a in pairs for lv in levels]


def build(scene, cfg, inputs, previous) -> bool:
    """Build the sequence's scene, or swap the occluders when ``previous`` is another level of
    the same clip and camera (as the pipeline does); whether the scene was kept."""
    if sequence.same_scene(previous, inputs.key):
        sequence.swap_occluders(scene, cfg, inputs)
        return True
    sequence.build_scene(scene, cfg, inputs)
    return False


def _add(t: dict, name: str, wall: float, cpu: float) -> None:
    t[f"wall_{name}"] = t.get(f"wall_{name}", 0.0) + wall
    t[f"cpu_{name}"] = t.get(f"cpu_{name}", 0.0) + cpu


def _time_casters(scene, inputs, params, t: dict, old_labels, casters: dict, first: str,
                  clip_labels=None) -> dict:
    """The three labellers on every frame of a built sequence (see the module docstring), and
    ``clip_labels``' clip path if given (``--clip-baseline``), timed into ``t`` (wall and CPU
    seconds; ``frame_set`` counted for the per-frame ones), their counts compared; returns the
    casters (the next level of the clip reuses their bodies)."""
    origin = np.asarray(inputs.camera.position, np.float64)
    from blender_addon import user_scene

    blockers = {**bridge.blockers(scene), **user_scene.blockers(inputs.scene_occluders)}
    targets = labels.targets_world(inputs.joints_cam, inputs.body.joint_radius, inputs.camera, params)
    n_t = inputs.n_frames
    ref = labels.RayCaster(scene, blockers, inputs.body.incidence, params, origin)
    main = old_labels.BatchRayCaster(scene, blockers, inputs.body.incidence, params, origin,
                                     reuse=casters.get("main"))
    new = labels.BatchRayCaster(scene, blockers, inputs.body.incidence, params, origin,
                                reuse=casters.get("new"))
    clip = {"new": new}
    if clip_labels is not None:
        clip["before"] = clip_labels.BatchRayCaster(scene, blockers, inputs.body.incidence, params, origin,
                                                    reuse=casters.get("before"))
    counts = {}

    def run_clip(name):
        def run():
            c0, p0 = time.perf_counter(), time.process_time()
            counts[name] = clip[name].clip_counts(targets)
            _add(t, name, time.perf_counter() - c0, time.process_time() - p0)
        return run

    def run_per_frame():
        per = {"ref": [], "main": []}
        for f in range(n_t):
            c0, p0 = time.perf_counter(), time.process_time()
            scene.frame_set(f)
            _add(t, "frame_set", time.perf_counter() - c0, time.process_time() - p0)
            for name, caster in (("main", main), ("ref", ref)):
                c0, p0 = time.perf_counter(), time.process_time()
                per[name].append(caster.frame_counts(targets[f]))
                _add(t, name, time.perf_counter() - c0, time.process_time() - p0)
        for name, rows in per.items():
            counts[name] = (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
        scene.frame_set(0)

    clip_steps = [run_clip(name) for name in clip]  # new, then the clip baseline (if any)
    steps = clip_steps + [run_per_frame] if first == "new" else [run_per_frame] + clip_steps[::-1]
    for step in steps:
        step()
    for other in ("main", "ref", "before"):
        if other in counts:
            a, b = counts["new"], counts[other]
            t[f"differ_{other}"] = t.get(f"differ_{other}", 0) + int(((a[0] != b[0]) | (a[1] != b[1])).sum())
    t["joint_frames"] = t.get("joint_frames", 0) + n_t * inputs.body.skeleton.num_joints
    return {"main": main, **clip}


def timed_pipeline(cfg, keys, out: Path, old_labels, clip_labels=None) -> dict:
    """The real per-frame pipeline (SequenceRender.step) on each key, timed by stage."""
    scene = bridge.ensure_scene()
    render.configure(scene, cfg.render, seed=0)
    cams = {c.name: c for c in cfg.camera_objects(rendered=True)}
    full = {c.name: c for c in cfg.camera_objects()}
    t = {"place": 0.0, "build": 0.0, "frames": 0.0, "raw": 0.0, "analytic_labels": 0.0, "n": 0, "n_seq": 0}
    agree: dict[float, list[float]] = {}
    previous, casters, job_caster = None, {}, None
    for i, key in enumerate(keys):
        joints = motion_world(cfg, key.subject, key.action)
        t0 = time.perf_counter()
        inputs = sequence.place(cfg, key, joints, cams[key.camera], full[key.camera])
        t1 = time.perf_counter()
        if not build(scene, cfg, inputs, previous):
            casters, job_caster = {}, None
        previous = key
        job = sequence.SequenceRender(scene, cfg, inputs, out / key.id, sequence.rendered_frames(cfg),
                                      reuse=job_caster)
        job_caster = job.caster
        t2 = time.perf_counter()
        for f in range(inputs.n_frames):
            job.step(f)
        t3 = time.perf_counter()
        for f in range(inputs.n_frames):  # the raw engine on the same frames
            scene.frame_set(f)
            r0 = time.perf_counter()
            render.render_only(scene)
            t["raw"] += time.perf_counter() - r0
        scene.frame_set(0)
        lab = job.labels()
        agree.setdefault(key.level, []).append(labels.agreement(lab, inputs.analytic))
        casters = _time_casters(scene, inputs, job.params, t, old_labels, casters, "new" if i % 2 else "main",
                                clip_labels)
        b1 = time.perf_counter()
        occ = inputs.occluders.in_camera_frame(inputs.camera)
        label_visibility(inputs.joints_cam, inputs.body, inputs.camera, occ, job.params)
        b2 = time.perf_counter()
        t["place"] += t1 - t0
        t["build"] += t2 - t1
        t["frames"] += t3 - t2
        t["analytic_labels"] += b2 - b1
        t["n"] += inputs.n_frames
        t["n_seq"] += 1
        print(f"  {key.id}: {inputs.n_frames} frames, placement {t1 - t0:.1f} s, build {t2 - t1:.2f} s, "
              f"frames {t3 - t2:.1f} s, labels agree {100 * agree[key.level][-1]:.2f} %", flush=True)
    bridge.clear(scene)
    t["agreement"] = {lv: float(np.mean(v)) for lv, v in agree.items()}
    return t


def labels_only(cfg, keys, old_labels, clip_labels=None) -> dict:
    """The three Blender labellers and the analytic labels on each key (no rendering), timed."""
    scene = bridge.ensure_scene()
    cams = {c.name: c for c in cfg.camera_objects(rendered=True)}
    full = {c.name: c for c in cfg.camera_objects()}
    t = {"analytic_labels": 0.0, "n": 0, "n_seq": 0}
    agree: dict[float, list[tuple[int, float]]] = {}
    params = visibility_params(cfg)
    previous, casters = None, {}
    for i, key in enumerate(keys):
        inputs = sequence.place(cfg, key, motion_world(cfg, key.subject, key.action), cams[key.camera],
                                full[key.camera])
        if not build(scene, cfg, inputs, previous):
            casters = {}
        previous = key
        casters = _time_casters(scene, inputs, params, t, old_labels, casters, "new" if i % 2 else "main",
                                clip_labels)
        blocked, by_object = casters["new"].clip_counts(
            labels.targets_world(inputs.joints_cam, inputs.body.joint_radius, inputs.camera, params))
        lab = labels_from_counts(blocked, by_object, params.rays,
                                 out_of_frame_mask(inputs.joints_cam, inputs.camera))
        b1 = time.perf_counter()
        occ = inputs.occluders.in_camera_frame(inputs.camera)
        ref = label_visibility(inputs.joints_cam, inputs.body, inputs.camera, occ, params)
        b2 = time.perf_counter()
        t["analytic_labels"] += b2 - b1
        t["n"] += inputs.n_frames
        t["n_seq"] += 1
        agree.setdefault(key.level, []).append((lab.occluded.size, labels.agreement(lab, ref)))
    bridge.clear(scene)
    t["agreement"] = {lv: sum(n * a for n, a in v) / sum(n for n, _ in v) for lv, v in agree.items()}
    t["level_joint_frames"] = {lv: sum(n for n, _ in v) for lv, v in agree.items()}
    return t


def print_labelling(t: dict, baseline: str, clip_baseline: str | None = None) -> None:
    n = t["n"]
    w_ref, w_main = t["wall_ref"] + t["wall_frame_set"], t["wall_main"] + t["wall_frame_set"]
    c_ref, c_main = t["cpu_ref"] + t["cpu_frame_set"], t["cpu_main"] + t["cpu_frame_set"]
    w_new, c_new = t["wall_new"], t["cpu_new"]
    print(f"labelling, Blender ray casts: {n} frames of {t['n_seq']} sequences "
          "(frames/s, wall and per CPU-second)")
    print(f"  reference RayCaster (scene.ray_cast per hit, frame_set): {n / w_ref:8.1f} wall "
          f"{n / c_ref:8.1f} CPU")
    print(f"  old: BatchRayCaster of {baseline} (frame_set, per frame): {n / w_main:8.1f} wall "
          f"{n / c_main:8.1f} CPU   (casting only {n / t['wall_main']:.1f} wall "
          f"{n / t['cpu_main']:.1f} CPU)")
    if clip_baseline is not None:
        w_b, c_b = t["wall_before"], t["cpu_before"]
        print(f"  before: BatchRayCaster.clip_counts of {clip_baseline}:   {n / w_b:8.1f} wall "
              f"{n / c_b:8.1f} CPU")
    print(f"  new: BatchRayCaster.clip_counts (no frame_set):      {n / w_new:8.1f} wall "
          f"{n / c_new:8.1f} CPU")
    if clip_baseline is not None:
        print(f"  ratio new/before:    {w_b / w_new:6.2f} x wall {c_b / c_new:6.2f} x CPU")
    print(f"  ratio new/old:       {w_main / w_new:6.2f} x wall {c_main / c_new:6.2f} x CPU")
    print(f"  ratio new/reference: {w_ref / w_new:6.2f} x wall {c_ref / c_new:6.2f} x CPU")
    before = f"new vs before {t['differ_before']}, " if clip_baseline is not None else ""
    print(f"  joint-frames with different counts: {before}new vs old {t['differ_main']}, new vs reference "
          f"{t['differ_ref']}, of {t['joint_frames']}")
    print(f"labelling, analytic (numpy):    {n / t['analytic_labels']:8.1f} frames/s")
    print("agreement with analytic labels (joint-frames, same state):")
    for lv, a in sorted(t["agreement"].items()):
        count = f" of {t['level_joint_frames'][lv]} joint-frames" if "level_joint_frames" in t else ""
        print(f"  level {lv:.2f}: {100 * a:.2f} %{count}")


def _stage(config: str, overrides: list[str], root: Path, out: Path, shard: str | None = None
           ) -> tuple[float, float]:
    """Wall and CPU seconds of one ``render_bench.py`` child process run from ``root``."""
    import os
    import resource
    import subprocess

    cmd = [sys.executable, str(root / "benchmark" / "render_bench.py"), "--config", config,
           "--out", str(out), "--quiet"] + [x for kv in overrides for x in ("--set", kv)]
    cmd += ["--shard", shard] if shard else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=dict(os.environ, PYTHONPATH=str(root)), cwd=root,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def stage(config: str, overrides: list[str], baseline: str, shard: str | None = None) -> int:
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
        old = _stage(config, overrides, tmp / "old", tmp / "out_old", shard)
        new = _stage(config, overrides, REPO, tmp / "out_new", shard)
        same = files(tmp / "out_old") == files(tmp / "out_new")
        n = len(list((tmp / "out_new" / "sequences").iterdir()))
    print(f"Blender stage, {n} sequences of {config} {' '.join(overrides)}"
          + (f" --shard {shard}" if shard else ""))
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
    p.add_argument("--shard", metavar="i/N", help="render only slice i of N (--stage)")
    p.add_argument("--baseline", default="816abbc", help="git revision of the 'old' code (--stage)")
    p.add_argument("--caster-baseline", default="b8d0c42",
                   help="git revision whose BatchRayCaster is the 'old' labeller (default b8d0c42)")
    p.add_argument("--clip-baseline", metavar="REV",
                   help="also time the clip path (BatchRayCaster.clip_counts) of git revision REV, "
                        "alternating with the current one ('before')")
    args = p.parse_args(argv)
    if args.stage:
        return stage(args.config, args.overrides, args.baseline, args.shard)
    overrides = [f"benchmark.frames={args.frames}", "render.frame_stride=1"]
    overrides += [f"render.engine={args.engine}"] if args.engine else []
    overrides += [f"render.samples={args.samples}"] if args.samples else []
    cfg = load_config(args.config, overrides)
    levels = args.levels if args.levels is not None else cfg.benchmark.levels
    keys = keys_of(cfg, levels, args.sequences)
    rs = cfg.render
    import os

    old_labels = module_at(args.caster_baseline, "blender_addon/labels.py")
    clip_labels = module_at(args.clip_baseline, "blender_addon/labels.py") if args.clip_baseline else None
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: absolute figures on a "
          "loaded machine are inflated; the old/new ratios are measured in the same run")
    print(f"{cfg.source}: {len(keys)} sequences x {args.frames} frames, {rs.engine} "
          f"{rs.resolution[0]}x{rs.resolution[1]}, {rs.samples} samples, {cfg.visibility.rays} rays/joint")
    if args.labels_only:
        print_labelling(labels_only(cfg, keys, old_labels, clip_labels), args.caster_baseline,
                        args.clip_baseline)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
        return 0
    with tempfile.TemporaryDirectory(prefix="occpose-bench-render-") as tmp:
        t = timed_pipeline(cfg, keys, Path(tmp), old_labels, clip_labels)
    n = t["n"]
    total = t["place"] + t["build"] + t["frames"]
    overhead = (t["frames"] - t["raw"]) / t["raw"]
    print(f"pipeline, labelled + rendered:  {n / total:8.2f} frames/s end to end "
          f"(placement {t['place']:.1f} s, scene building {t['build']:.1f} s)")
    print(f"pipeline, per-frame work:       {n / t['frames']:8.2f} frames/s "
          f"(labels + masks + render + PNGs)")
    print(f"raw engine (render.render):     {n / t['raw']:8.2f} frames/s   "
          f"-> per-frame overhead {100 * overhead:.1f} %")
    print_labelling(t, args.caster_baseline, args.clip_baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
