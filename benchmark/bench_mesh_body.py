"""Mesh-body labels vs capsule labels on occpose's cylinder-man exported as a skinned mesh.

Usage (from the repository root; numpy only):

    .venv/bin/python benchmark/bench_mesh_body.py [--config scenes/quick.toml] [--frames 60] \
        [--segments 16] [--rings 4] [--set K=V ...]

For every sequence of the preset (its subjects, actions, cameras and levels, with the analytic
backend's occluders), the cylinder-man is tessellated into one mesh whose triangles are weighted
to their segment (``mesh_body.capsule_body_mesh``), labelled with the mesh-body definition
(``mesh_body.label_mesh_body``: radii and tolerances estimated from the mesh) and compared with
the capsule labels state by state (visible / hidden by body / by object / out of frame). Prints
the agreement per level and overall, with a 95 % Wilson interval over joint-frames (joint-frames
of one clip are correlated, so the interval is optimistic), and the time ratio of the two
labellers.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from occpose.camera import world_to_camera
from occpose.config import load_config
from occpose.generate import motion_world, place_sequence, plan, visibility_params
from occpose.occlusion.raycast import mesh_body
from occpose.occlusion.raycast.visibility import label_visibility
from occpose.viz.frames import joint_states


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="scenes/quick.toml")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--segments", type=int, default=16)
    p.add_argument("--rings", type=int, default=4)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    args = p.parse_args()
    cfg = load_config(args.config, [f"benchmark.frames={args.frames}", *args.overrides])
    params = visibility_params(cfg)
    cams = {c.name: c for c in cfg.camera_objects()}
    per_level: dict[float, list[int]] = {}
    t_mesh = t_caps = 0.0
    clips = {}
    for key in plan(cfg):
        if (key.subject, key.action) not in clips:
            clips[(key.subject, key.action)] = motion_world(cfg, key.subject, key.action)
        joints, cam = clips[(key.subject, key.action)], cams[key.camera]
        placed = place_sequence(cfg, key, joints, cam)
        body = cfg.body_model(key.subject)
        joints_cam = world_to_camera(joints, cam)
        occ = placed.occluders.in_camera_frame(cam)
        t0 = time.perf_counter()
        ref = label_visibility(joints_cam, body, cam, occ, params)
        t1 = time.perf_counter()
        verts, faces, part = mesh_body.capsule_body_mesh(body, joints_cam, args.segments, args.rings)
        mb = mesh_body.make_mesh_body(verts[0], faces, part, body.incidence, joints_cam[0, body.seg_a],
                                      joints_cam[0, body.seg_b], params)
        lab = mesh_body.label_mesh_body(joints_cam, verts, mb, cam, occ, params)
        t_caps += t1 - t0
        t_mesh += time.perf_counter() - t1
        same = joint_states(lab.to_arrays()) == joint_states(ref.to_arrays())
        counts = per_level.setdefault(key.level, [0, 0])
        counts[0] += int(same.sum())
        counts[1] += same.size
    print(f"{cfg.source}: {args.frames} frames per sequence, mesh {args.segments} x {2 * args.rings} "
          f"(segments x rings), {len(faces)} triangles")
    print("| level | joint-frames | agreement | 95 % interval |\n|---|---|---|---|")
    for level, (k, n) in sorted(per_level.items()):
        lo, hi = wilson(k, n)
        print(f"| {level:.1f} | {n} | {100 * k / n:.2f} % | {100 * lo:.2f} to {100 * hi:.2f} % |")
    k, n = (sum(v[i] for v in per_level.values()) for i in (0, 1))
    lo, hi = wilson(k, n)
    print(f"| all | {n} | {100 * k / n:.2f} % | {100 * lo:.2f} to {100 * hi:.2f} % |")
    print(f"time: mesh-body labeller {t_mesh:.1f} s, capsule labeller {t_caps:.1f} s "
          f"(ratio {t_mesh / max(t_caps, 1e-9):.0f})")


if __name__ == "__main__":
    main()
