"""Render a benchmark with Blender: the headless entry point and the add-on's render operator.

:func:`iter_benchmark` is a generator that does one frame of work per step (label, mask,
render), so the add-on's modal operator can advance it on timer events and cancel between
frames, while :func:`render_benchmark` and the command line simply run it to the end. Completed
sequences are skipped (``BenchmarkWriter.completed_entry``), so an interrupted run resumes.

Command line (``benchmark/render_bench.py`` and ``occpose-bench generate --backend blender``
call :func:`main`)::

    --config TOML --out DIR [--seed N] [--set K=V ...] [--shard i/N] [--overwrite]
    [--engine cycles|workbench|eevee] [--device cpu|gpu] [--quiet] [--occluders COLLECTION]
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from occpose.config import Config, load_config
from occpose.dataset import BenchmarkWriter, SequenceEntry
from occpose.errors import OccposeError
from occpose.generate import motion_world, parse_shard, plan, shard_keys

from . import bridge, compat, render, sequence, user_scene

PROG = "render_bench"


@dataclass(frozen=True)
class Progress:
    """Where a run stands: ``done`` of ``total`` frames of work (skipped sequences count as done)."""

    done: int
    total: int
    sequence: str
    frame: int


def manifest_extra(cfg: Config, info: dict) -> dict:
    """Manifest fields the Blender backend adds: render-resolution cameras, renderer settings."""
    return {"cameras": [c.to_dict() for c in cfg.camera_objects(rendered=True)],
            "renderer": {**info, "resolution": list(cfg.render.resolution),
                         "samples": cfg.render.samples, "frame_stride": cfg.render.frame_stride}}


def iter_benchmark(cfg: Config, out: str | Path, overwrite: bool = False,
                   shard: tuple[int, int] | None = None, scene=None,
                   on_sequence: Callable[[SequenceEntry, float], None] | None = None,
                   occluder_collection: str | None = None) -> Iterator[Progress]:
    """Render (or resume) a benchmark directory, one frame per step; the generator returns
    the manifest (``StopIteration.value``; :func:`render_benchmark` hands it back).

    ``occluder_collection``: the user's collection of occluding objects (``user_scene``), shown
    in the render scene and labelled and stored with every sequence."""
    scene = scene or bridge.ensure_scene(user_scene.RENDER_SCENE if occluder_collection else bridge.SCENE)
    user_occ = user_scene.scene_occluders(scene, occluder_collection, cfg.benchmark.frames)
    cfg = user_scene.with_identity(cfg, user_occ)
    info = render.configure(scene, cfg.render, seed=0)
    writer = BenchmarkWriter(out, cfg, overwrite=overwrite, backend="blender", extra=manifest_extra(cfg, info))
    keys = shard_keys(plan(cfg, cfg.render.subjects), shard)  # render.subjects: only those
    todo = [k for k in keys if writer.completed_entry(k.id) is None]
    n_frames = cfg.benchmark.frames
    total, done = len(keys) * n_frames, (len(keys) - len(todo)) * n_frames
    cams = {c.name: c for c in cfg.camera_objects(rendered=True)}
    placement_cams = {c.name: c for c in cfg.camera_objects()}
    clip_key, clip, built, caster = None, None, None, None
    for key in todo:
        t0 = time.perf_counter()
        if clip_key != (key.subject, key.action):
            clip_key, clip = (key.subject, key.action), motion_world(cfg, key.subject, key.action)
        inputs = sequence.place(cfg, key, clip, cams[key.camera], placement_cams[key.camera], user_occ)
        if sequence.same_scene(built, key):  # another level: swap the occluders only
            sequence.swap_occluders(scene, cfg, inputs)
        else:
            sequence.build_scene(scene, cfg, inputs)
            caster = None
        built = key
        job = sequence.SequenceRender(scene, cfg, inputs, writer.sequence_dir(key.id),
                                      sequence.rendered_frames(cfg), reuse=caster)
        caster = job.caster
        for t in range(n_frames):
            job.step(t)
            done += 1
            yield Progress(done, total, key.id, t)
        entry, arrays = job.result()
        writer.write_sequence(entry, arrays)
        if on_sequence:
            on_sequence(entry, time.perf_counter() - t0)
    bridge.clear(scene)
    return writer.finalize([k.id for k in keys])


def render_benchmark(cfg: Config, out: str | Path, overwrite: bool = False,
                     shard: tuple[int, int] | None = None, quiet: bool = False,
                     occluder_collection: str | None = None) -> dict:
    """Run :func:`iter_benchmark` to the end, printing one line per sequence; returns the manifest."""
    def report(entry: SequenceEntry, seconds: float) -> None:
        if not quiet:
            x = entry.extra
            agree = f", {100 * x['analytic_agreement']:.2f} % = analytic" if "analytic_agreement" in x else ""
            print(f"{entry.id}: level {entry.achieved_level:.3f} (target {entry.target_level:.2f}), "
                  f"{x['rendered_frames']}/{entry.frames} frames rendered, mask occlusion "
                  f"{x['mask_occlusion']:.3f}{agree}, {seconds:.1f} s", flush=True)

    steps = iter_benchmark(cfg, out, overwrite, shard, on_sequence=report,
                           occluder_collection=occluder_collection)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Render an occpose benchmark with Blender "
                                "(Blender ray-cast labels, RGB frames, visible-subject masks).")
    p.add_argument("--config", required=True, metavar="TOML", help="preset, e.g. scenes/quick.toml")
    p.add_argument("--out", required=True, metavar="DIR", help="output benchmark directory")
    p.add_argument("--seed", type=int, default=None, help="global seed (overrides benchmark.seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset value, e.g. --set render.samples=4 (repeatable)")
    p.add_argument("--shard", metavar="i/N", help="render only slice i of N (merge with occpose-bench merge)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a benchmark in DIR that was made from a different configuration")
    p.add_argument("--engine", choices=("cycles", "workbench", "eevee"), help="= --set render.engine=...")
    p.add_argument("--device", choices=("cpu", "gpu"), help="= --set render.device=...")
    p.add_argument("--quiet", action="store_true", help="no per-sequence lines")
    p.add_argument("--force-size", action="store_true",
                   help="go ahead even when the estimated memory, disk or time cannot fit")
    user_scene.add_arguments(p)
    return p


def config_from_args(args: argparse.Namespace) -> Config:
    overrides = list(args.overrides)
    overrides += [f"render.engine={args.engine}"] if args.engine else []
    overrides += [f"render.device={args.device}"] if args.device else []
    return load_config(args.config, overrides, args.seed)


def _check_size(cfg: Config, args: argparse.Namespace) -> None:
    """Refuse a render that cannot fit on this machine (occpose.sizes), unless --force-size."""
    from occpose.sizes import check, render_estimate

    keys = shard_keys(plan(cfg, cfg.render.subjects), parse_shard(args.shard))
    check(render_estimate(cfg, len(keys)), args.out, args.force_size)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, render, print a summary; exit status 0 complete, 1 incomplete, 2 user error."""
    args = build_parser().parse_args(argv)
    compat.forget_mp_main()
    try:
        cfg = config_from_args(args)
        _check_size(cfg, args)
        t0 = time.perf_counter()
        manifest = render_benchmark(cfg, args.out, args.overwrite, parse_shard(args.shard), args.quiet,
                                    args.occluders)
    except OccposeError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except OSError as e:  # read-only or full disk, a file in the way: one line, as occpose-bench
        from occpose.cli import os_error_line

        print(f"{PROG}: error: {os_error_line(e)}", file=sys.stderr)
        return 2
    seqs = manifest["sequences"]
    frames = sum(s["extra"].get("rendered_frames", 0) for s in seqs)
    dt = time.perf_counter() - t0
    print(f"{args.out}: {len(seqs)} sequences, {frames} frames rendered, status {manifest['status']} "
          f"({dt:.1f} s)", flush=True)
    return 0 if manifest["status"] == "complete" else 1
