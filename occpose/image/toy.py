"""Tiny "rendered" benchmarks drawn with Pillow, for tests and benchmarks without Blender.

The procedural motion of the generator (:func:`occpose.generate.motion_world`) is drawn as the
projected cylinder-man: each capsule a thick line with round ends, far segments first, left limbs
in one colour, right limbs in another, the trunk and head in a third, over a random gradient
background with noise. Sequences at a level > 0 get one or two static boxes between the camera
and the person, drawn last (they are always nearer than the body), whose ray-cast labels come from
:func:`occpose.occlusion.raycast.visibility.label_visibility`, so the achieved level is measured, not
the target. The directory is a valid Blender-backend benchmark (``rendered`` array, frames
PNGs, render-resolution cameras) without masks. Not realistic: fast, deterministic, learnable.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..camera import Camera, project_to_2d, world_to_camera
from ..harness.toy import TOY_HEIGHTS
from ..rng import key_rng

__all__ = ["toy_image_config", "write_toy_image_benchmark", "draw_frame"]


def toy_image_config(subjects=("S1",), test_subjects=("S4",), actions=("walk",),
                     levels=(0.0, 0.3), frames: int = 12, size: int = 96, seed: int = 0):
    """A :class:`~occpose.config.Config` for a toy image benchmark rendered at ``size`` px."""
    from ..config import config_from_dict

    data = {
        "benchmark": {"name": "toy-image", "seed": seed, "frames": frames, "actions": list(actions),
                      "levels": list(levels), "train_subjects": list(subjects),
                      "test_subjects": list(test_subjects), "area_radius": 0.4},
        "subjects": {s: {"height": TOY_HEIGHTS.get(s, 1.7)} for s in (*subjects, *test_subjects)},
        "cameras": [{"name": "cam0", "position": [2.5, 2.3, 1.4], "target": [0.0, 0.0, 0.9]}],
        "render": {"resolution": [size, size]},
    }
    return config_from_dict(data, "<toy-image>")


def _boxes(joints_world: np.ndarray, camera: Camera, rng: np.random.Generator):
    """One or two static boxes 40-60 % of the way from the camera to the person."""
    from ..occlusion.occluders.geometry import BOX, OccluderSet, rigid_transform, rotation_z

    root = joints_world[:, 0].mean(axis=0)
    n = int(rng.integers(1, 3))
    poses, sizes = [], []
    for _ in range(n):
        f = rng.uniform(0.4, 0.6)
        centre = camera.position + f * (root - camera.position)
        centre += np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(-0.4, 0.3)])
        poses.append(rigid_transform(rotation_z(rng.uniform(0, np.pi)), centre))
        sizes.append([rng.uniform(0.03, 0.08), rng.uniform(0.03, 0.08), rng.uniform(0.08, 0.25)])
    pose = np.broadcast_to(np.stack(poses), (len(joints_world), n, 4, 4)).copy()
    return OccluderSet.from_primitives([BOX] * n, sizes, pose,
                                       color=rng.uniform(0.1, 0.9, (n, 3)).astype(np.float32))


def _hull(points: np.ndarray) -> list[tuple[float, float]]:
    """Convex hull (monotone chain) of (N, 2) points, as Pillow polygon vertices."""
    pts = sorted(map(tuple, np.asarray(points, float)))

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(reversed(pts))
    return lower[:-1] + upper[:-1]


def draw_frame(joints_cam: np.ndarray, body, camera: Camera, background: np.ndarray,
               colors: np.ndarray, occluders_cam=None) -> np.ndarray:
    """(H, W, 3) uint8 picture of one frame: background, capsules far to near, then occluders.

    Args:
        joints_cam: (J, 3) metres; colors: (3, 3) uint8 for centre, left, right segments.
        occluders_cam: 1-frame OccluderSet of boxes in the camera frame, or None.
    """
    from PIL import Image, ImageDraw

    im = Image.fromarray(background.copy())
    draw = ImageDraw.Draw(im)
    a, b, radius = body.capsules(joints_cam)                                          # (S, 3)
    left = set(body.skeleton.joints_left)
    right = set(body.skeleton.joints_right)
    f = camera.fx
    for s in np.argsort(-(a[:, 2] + b[:, 2])):
        seg = body.segments[s]
        side = 1 if seg.b in left or seg.a in left else 2 if seg.b in right or seg.a in right else 0
        col = tuple(int(c) for c in colors[side])
        pa, pb = project_to_2d(np.stack([a[s], b[s]]), camera)
        ra, rb = radius[s] * f / a[s, 2], radius[s] * f / b[s, 2]
        d = pb - pa
        n = np.array([-d[1], d[0]]) / max(np.linalg.norm(d), 1e-9)
        quad = [tuple(pa + n * ra), tuple(pb + n * rb), tuple(pb - n * rb), tuple(pa - n * ra)]
        draw.polygon(quad, fill=col)
        for p, r in ((pa, ra), (pb, rb)):
            draw.ellipse((p[0] - r, p[1] - r, p[0] + r, p[1] + r), fill=col)
    if occluders_cam is not None:
        corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
        for i in range(occluders_cam.num_primitives):
            pose = occluders_cam.pose[0, i]
            pts = (corners * occluders_cam.size[i]) @ pose[:3, :3].T + pose[:3, 3]
            col = tuple(int(c) for c in (occluders_cam.color[i] * 255))
            draw.polygon(_hull(project_to_2d(pts, camera) - 0.5), fill=col)
    return np.asarray(im)


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    c0, c1 = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    img = c0 + (c1 - c0) * t + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def write_toy_image_benchmark(root: str | Path, stride: int = 1, **kw) -> Path:
    """Write a toy image benchmark (arguments as :func:`toy_image_config`); returns ``root``."""
    from ..dataset import BenchmarkWriter, SequenceEntry, frame_path, sequence_id
    from ..dataset.atomic import atomic_path
    from ..generate import motion_world, split_of
    from ..occlusion.occluders.geometry import OccluderSet
    from ..occlusion.raycast.visibility import label_visibility

    cfg = toy_image_config(**kw)
    b = cfg.benchmark
    cams = cfg.camera_objects(rendered=True)
    writer = BenchmarkWriter(root, cfg, overwrite=True, backend="blender",
                             extra={"cameras": [c.to_dict() for c in cams]})
    ids = []
    for subject in (*b.train_subjects, *b.test_subjects):
        body = cfg.body_model(subject)
        for action in b.actions:
            world = motion_world(cfg, subject, action)
            for cam in cams:
                look = key_rng(b.seed, "toy-look", subject, action, cam.name)
                background = _background(cam.height, cam.width, look)
                colors = look.uniform(30, 255, (3, 3)).astype(np.uint8)
                for level in b.levels:
                    sid = sequence_id(subject, action, cam.name, level)
                    rng = key_rng(b.seed, "toy-occluders", sid)
                    occ = _boxes(world, cam, rng) if level > 0 else OccluderSet.empty(len(world))
                    joints_cam = world_to_camera(world, cam)
                    occ_cam = occ.in_camera_frame(cam) if occ.num_primitives else None
                    lab = label_visibility(joints_cam, body, cam, occ_cam)
                    rendered = np.zeros(len(world), bool)
                    rendered[::stride] = True
                    for t in np.flatnonzero(rendered):
                        img = draw_frame(joints_cam[t], body, cam, background, colors,
                                         occ_cam.select_frames(t) if occ_cam is not None else None)
                        from PIL import Image

                        path = writer.root / frame_path(sid, t)
                        with atomic_path(path) as tmp:
                            Image.fromarray(img).save(tmp, format="PNG")
                    arrays = {"joints_3d_world": world.astype(np.float32),
                              "joints_3d_cam": joints_cam.astype(np.float32),
                              "joints_2d": project_to_2d(joints_cam, cam).astype(np.float32),
                              **lab.to_arrays(), "rendered": rendered, **occ.to_arrays()}
                    entry = SequenceEntry(sid, subject, action, cam.name, split_of(cfg, subject),
                                          level, b.frames, "", "",
                                          achieved_level=float(lab.occluder_fraction.mean()),
                                          backend="blender",
                                          extra={"rendered_frames": int(rendered.sum())})
                    writer.write_sequence(entry, arrays)
                    ids.append(sid)
    writer.finalize(ids)
    return Path(root)
