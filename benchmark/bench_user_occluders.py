"""Blender labels with user occluders vs the analytic labels re-derived from the stored arrays.

Usage (from the repository root, with the bpy module):

    .venv/bin/python benchmark/bench_user_occluders.py --out runs/user-occluders [--frames 60]

Adds a collection "My Occluders" with a torus and an animated, bevelled cube between the quick
preset's cam0 and the subjects, renders S1 and S4 walking and boxing (both cameras, levels 0 and
0.2; Workbench, 128 px, two rendered frames per sequence) with ``--occluders "My Occluders"``
and prints every sequence's ``analytic_agreement`` (the Blender ray-cast labels vs
``label_visibility`` on the stored occluders, user meshes included).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def user_objects():
    import bpy

    coll = bpy.data.collections.new("My Occluders")
    bpy.context.scene.collection.children.link(coll)
    bpy.ops.mesh.primitive_torus_add(major_radius=0.5, minor_radius=0.12, location=(1.2, 1.1, 1.0),
                                     rotation=(1.2, 0.3, 0.0))
    torus = bpy.context.active_object
    bpy.ops.mesh.primitive_cube_add(size=0.6, location=(0.8, 1.6, 0.5))
    cube = bpy.context.active_object
    cube.modifiers.new("bevel", "BEVEL").width = 0.08
    for obj in (torus, cube):
        for c in obj.users_collection:
            c.objects.unlink(obj)
        coll.objects.link(obj)
    for t in range(0, 60, 10):
        cube.location = (0.8 + 0.02 * t, 1.6 - 0.01 * t, 0.5)
        cube.rotation_euler = (0.0, 0.0, 0.03 * t)
        cube.keyframe_insert("location", frame=t)
        cube.keyframe_insert("rotation_euler", frame=t)
    return coll.name


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--frames", type=int, default=60)
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    from blender_addon import pipeline
    from occpose.config import load_config

    name = user_objects()
    cfg = load_config(REPO / "scenes" / "quick.toml", [
        f"benchmark.frames={args.frames}", 'benchmark.actions=["walk", "box"]',
        'benchmark.train_subjects=["S1"]', 'benchmark.test_subjects=["S4"]', "benchmark.levels=[0.0, 0.2]",
        'render.engine="workbench"', "render.samples=1", "render.resolution=[128, 128]",
        f"render.frame_stride={max(1, args.frames // 2)}"])
    manifest = pipeline.render_benchmark(cfg, args.out, overwrite=True, occluder_collection=name)
    agree = np.array([s["extra"]["analytic_agreement"] for s in manifest["sequences"]])
    print(f"{len(agree)} sequences: agreement min {100 * agree.min():.2f} %, mean {100 * agree.mean():.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
