"""Visible-subject masks of the Blender backend (blender_addon.masks): old vs new, per frame.

Usage (from the repository root; numpy only, no bpy):

    .venv/bin/python benchmark/bench_masks.py                      # quick.toml, S4, shard 1/12
    .venv/bin/python benchmark/bench_masks.py --shard 5/12 --set "render.subjects=['S5']"
    .venv/bin/python benchmark/bench_masks.py --baseline 3282476 --repeats 3

The sequences of ``--config`` (with ``--set`` overrides, ``render.subjects`` and ``--shard`` as
``render_bench.py`` takes them) are placed as the Blender stage places them (same motion, same
occluders, the render-resolution camera), then masked twice in the same run, sequence by
sequence, alternating which goes first:

* old: ``blender_addon/masks.py`` of ``--baseline`` (default 3282476, read from git), as
  ``SequenceRender.step`` called it there: one frame at a time (``subject_masks`` on the frame's
  ``select_frames`` occluders, then ``visible_fraction``);
* new: the current ``SequenceRender`` path: ``frame_masks`` on ``batch_frames`` frames at a time,
  ``visible_fractions``, and the visible mask of each rendered frame.

Prints the masks' wall and CPU milliseconds per frame, old, new and old/new, and whether every
frame's ``mask_visible_fraction`` (float32) and every rendered frame's mask are the same bytes
(they must be). The load average is printed too: on a shared machine only the ratios of one
run mean something, and the per-CPU-second ones least distorted by other processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from occpose.camera import world_to_camera  # noqa: E402
from occpose.config import load_config  # noqa: E402
from occpose.generate import motion_world, parse_shard, place_sequence, plan, shard_keys  # noqa: E402

from blender_addon import masks  # noqa: E402
from gitrev import module_at  # noqa: E402  (benchmark/)


def sequences(cfg, shard):
    """(id, joints_cam, body, camera, occluders in the camera frame or None) per planned key."""
    cams = {c.name: c for c in cfg.camera_objects(rendered=True)}
    placement = {c.name: c for c in cfg.camera_objects()}
    clips = {}
    for key in shard_keys(plan(cfg, cfg.render.subjects), shard):
        if (key.subject, key.action) not in clips:
            clips = {(key.subject, key.action): motion_world(cfg, key.subject, key.action)}
        joints = clips[(key.subject, key.action)]
        cam = cams[key.camera]
        occ = place_sequence(cfg, key, joints, placement[key.camera]).occluders
        yield (key.id, world_to_camera(joints, cam), cfg.body_model(key.subject), cam,
               occ.in_camera_frame(cam) if occ.num_primitives else None)


def run_old(old, seq, rendered):
    _, joints_cam, body, cam, occ = seq
    fraction = np.ones(len(joints_cam), np.float32)
    kept = {}
    for t in range(len(joints_cam)):
        visible, subject = old.subject_masks(joints_cam[t], body, cam,
                                             occ.select_frames(t) if occ is not None else None)
        fraction[t] = old.visible_fraction(visible, subject)
        if rendered[t]:
            kept[t] = visible
    return fraction, kept


def run_new(seq, rendered):
    _, joints_cam, body, cam, occ = seq
    n_t = len(joints_cam)
    fraction = np.ones(n_t, np.float32)
    kept = {}
    step = masks.batch_frames(cam)
    for start in range(0, n_t, step):
        frames = np.arange(start, min(start + step, n_t))
        batch = masks.frame_masks(joints_cam[frames], body, cam, occ, frames)
        fraction[frames] = batch.visible_fractions()
        for i in np.flatnonzero(rendered[frames]):
            kept[int(frames[i])] = batch.visible_mask(int(i))
    return fraction, kept


def timed(fn, *args):
    w, c = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - w, time.process_time() - c


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(REPO / "scenes" / "quick.toml"))
    p.add_argument("--set", dest="overrides", action="append", default=None, metavar="KEY=VALUE",
                   help="preset overrides (repeatable; default render.subjects=['S4'])")
    p.add_argument("--shard", default="1/12", help="i/N of the planned sequences (default 1/12)")
    p.add_argument("--baseline", default="3282476", help="git revision of the old masks.py")
    p.add_argument("--repeats", type=int, default=1, help="old and new runs per sequence (best kept)")
    args = p.parse_args(argv)
    overrides = args.overrides if args.overrides is not None else ["render.subjects=['S4']"]
    cfg = load_config(args.config, overrides)
    old = module_at(args.baseline, "blender_addon/masks.py")
    rendered = np.zeros(cfg.benchmark.frames, bool)
    rendered[::cfg.render.frame_stride] = True
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: absolute figures on a loaded "
          "machine are inflated; the old/new ratios are measured in the same run")
    tot = {"old": [0.0, 0.0], "new": [0.0, 0.0]}
    n_frames = n_seq = differ = 0
    for i, seq in enumerate(sequences(cfg, parse_shard(args.shard))):
        best = {}
        for _ in range(args.repeats):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            for name in order:
                out, wall, cpu = timed(run_old, old, seq, rendered) if name == "old" else timed(run_new, seq, rendered)
                w0, c0 = best.get(name, (None, np.inf, np.inf))[1:]
                best[name] = (out, min(w0, wall), min(c0, cpu))
        (f_old, m_old), (f_new, m_new) = best["old"][0], best["new"][0]
        same = f_old.tobytes() == f_new.tobytes() and m_old.keys() == m_new.keys() and all(
            m_old[t].tobytes() == m_new[t].tobytes() for t in m_old)
        differ += not same
        for name in tot:
            tot[name][0] += best[name][1]
            tot[name][1] += best[name][2]
        n_frames += len(seq[1])
        n_seq += 1
        print(f"  {seq[0]}: old {1e3 * best['old'][2] / len(seq[1]):6.2f} ms/frame CPU, new "
              f"{1e3 * best['new'][2] / len(seq[1]):6.2f}{'' if same else '  OUTPUTS DIFFER'}", flush=True)
    if not n_seq:
        p.error(f"--shard {args.shard} selects no sequences of {args.config} (with the --set overrides)")
    (w_old, c_old), (w_new, c_new) = tot["old"], tot["new"]
    cam = next(iter(cfg.camera_objects(rendered=True)))
    print(f"masks of {n_seq} sequences, {n_frames} frames ({cam.width}x{cam.height}, {args.config} "
          f"{' '.join(overrides)} --shard {args.shard}), ms per frame:")
    print(f"  old ({args.baseline}, per frame):        {1e3 * w_old / n_frames:7.3f} wall "
          f"{1e3 * c_old / n_frames:7.3f} CPU")
    print(f"  new (frame_masks, {masks.batch_frames(cam)} frames a batch): {1e3 * w_new / n_frames:7.3f} wall "
          f"{1e3 * c_new / n_frames:7.3f} CPU")
    print(f"  ratio old/new: {w_old / w_new:6.2f} x wall {c_old / c_new:6.2f} x CPU; outputs "
          f"{'identical' if not differ else f'DIFFER in {differ} sequences'} (visible fractions, rendered masks)")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
