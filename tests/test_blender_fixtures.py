"""Shared helpers of the Blender tests (no tests here): tiny presets, hand-made occluders."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LEVELS = [0.0, 0.2]

TINY = """
include = ["{scenes}/subjects.toml"]

[benchmark]
name = "tiny-blender"
seed = 3
frames = {frames}
fps = 50.0
area_radius = 1.0
actions = ["walk"]
levels = {levels}
train_subjects = ["S1"]
test_subjects = ["S4"]

[[cameras]]
name = "cam0"
position = [3.6, 3.4, 1.6]
target = [0.0, 0.0, 1.0]
size = [1000, 1000]
focal = [1145.0, 1145.0]

[render]
engine = "{engine}"
resolution = [{res}, {res}]
samples = {samples}
frame_stride = {stride}
"""


def write_tiny(folder: Path, frames: int = 6, engine: str = "workbench", res: int = 64,
               samples: int = 1, stride: int = 2, levels=None, name: str = "tiny.toml") -> Path:
    """A preset: S1 (train) and S4 (test) walking, one camera, tiny renders."""
    path = Path(folder) / name
    path.write_text(textwrap.dedent(TINY.format(
        scenes=REPO / "scenes", frames=frames, engine=engine, res=res, samples=samples,
        stride=stride, levels=levels if levels is not None else LEVELS)))
    return path


def icosahedron():
    from occpose.occlusion.occluders.geometry import MeshData

    phi = (1 + 5 ** 0.5) / 2
    v = np.array([[-1, phi, 0], [1, phi, 0], [-1, -phi, 0], [1, -phi, 0], [0, -1, phi], [0, 1, phi],
                  [0, -1, -phi], [0, 1, -phi], [phi, 0, -1], [phi, 0, 1], [-phi, 0, -1], [-phi, 0, 1]])
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
         [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5],
         [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    return MeshData("icosahedron", v / np.linalg.norm(v[0]), np.array(f))


def handmade_occluders(joints_world: np.ndarray, camera_position: np.ndarray, seed: int = 0):
    """(T frames) one primitive of every shape between the camera and the subject, moving and
    turning a little per frame, placed to hide part of the body."""
    from occpose.occlusion.occluders.geometry import (BOX, CAPSULE, CYLINDER, MESH, SPHERE, OccluderSet,
                                            rigid_transform, rotation_z)

    rng = np.random.default_rng(seed)
    n_t = len(joints_world)
    root = joints_world[:, 0]
    to_cam = camera_position - root
    side = np.cross(to_cam, [0.0, 0.0, 1.0])
    side /= np.linalg.norm(side, axis=1, keepdims=True)
    shapes = [BOX, CYLINDER, SPHERE, CAPSULE, MESH]
    sizes = [[0.4, 0.05, 0.35], [0.08, 0.08, 0.6], [0.15, 0.15, 0.15], [0.06, 0.06, 0.25], [0.2, 0.2, 0.2]]
    places = [(0.25, 0.0, -0.6), (0.3, 0.3, 0.0), (0.2, -0.2, 0.5), (0.35, 0.1, 0.2), (0.3, -0.35, -0.2)]
    pose = np.zeros((n_t, len(shapes), 4, 4))
    for i, (f, dx, dz) in enumerate(places):
        centre = root + f * to_cam + dx * side + [0.0, 0.0, dz]
        c, s = np.cos(0.3 * i), np.sin(0.3 * i)
        tilt = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
        for t in range(n_t):
            pose[t, i] = rigid_transform(rotation_z(0.02 * t + i) @ tilt, centre[t])
    return OccluderSet.from_primitives(shapes, sizes, pose, color=rng.uniform(0.1, 0.9, (5, 3)),
                                       mesh_index=[-1, -1, -1, -1, 0], meshes=(icosahedron(),))
