"""Occluder placement: controlled levels, clearance, determinism, smooth motion, user meshes."""

import hashlib

import numpy as np
import pytest

from occpose.config import OccluderSection, load_config
from occpose.errors import ConfigError, LevelNotReachedError
from occpose.generate import motion_world
from occpose.occlusion import (BOX, CAPSULE, CYLINDER, MESH, SPHERE, OccluderSet, VisibilityParams,
                               label_visibility)
from occpose.occlusion.occluders.placement import growths, image_fraction, place_occluders, sample_layout
from occpose.occlusion.occluders.stage import make_stage
from occpose.occlusion.occluders.sampling import build_set
from occpose.occlusion.occluders.user_meshes import load_user_mesh
from occpose.camera import world_to_camera
from occpose.rng import key_rng

from .conftest import REPO

FRAMES = 100
ACTIONS = ("walk", "box", "sit_down")
LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
PARAMS = VisibilityParams()
BOX_OBJ = """# unit cube
v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 0 0 1\nv 1 0 1\nv 1 1 1\nv 0 1 1
f 1 3 2\nf 1 4 3\nf 5 6 7\nf 5 7 8\nf 1 2 6\nf 1 6 5\nf 2 3 7\nf 2 7 6\nf 3 4 8\nf 3 8 7
f 4 1 5\nf 4 5 8
"""


@pytest.fixture(scope="module")
def quick():
    return load_config(REPO / "scenes" / "quick.toml", [f"benchmark.frames={FRAMES}"])


@pytest.fixture(scope="module")
def clips(quick):
    return {a: motion_world(quick, "S1", a) for a in ACTIONS}


def place(quick, joints, camera, level, seed=0, cfg=None, **kw):
    rng = key_rng(seed, "occluders", "S1", camera.name, level)
    return place_occluders(joints, quick.body_model("S1"), camera, level, rng,
                           cfg or quick.occluders, PARAMS, sequence=f"S1_{camera.name}_{level}", **kw)


@pytest.fixture(scope="module")
def placements(quick, clips):
    """Every default level on walk, box and sit_down seen by both cameras."""
    return [(a, cam, lv, place(quick, clips[a], cam, lv))
            for a in ACTIONS for cam in quick.camera_objects() for lv in LEVELS]


# ----------------------------------------------------------------------------- geometry helpers
def sdf(points, shape, size, mesh_vertices=None, faces=None):
    """Signed distance (metres, < 0 inside) from object-frame points (..., 3) to a primitive."""
    if shape == BOX:
        q = np.abs(points) - size
        return np.linalg.norm(np.maximum(q, 0), axis=-1) + np.minimum(q.max(axis=-1), 0)
    if shape == SPHERE:
        return np.linalg.norm(points, axis=-1) - size[0]
    if shape == CAPSULE:
        p = points.copy()
        p[..., 2] -= np.clip(p[..., 2], -size[2], size[2])
        return np.linalg.norm(p, axis=-1) - size[0]
    if shape == CYLINDER:
        d = np.stack([np.linalg.norm(points[..., :2], axis=-1) - size[0],
                      np.abs(points[..., 2]) - size[2]], axis=-1)
        return np.linalg.norm(np.maximum(d, 0), axis=-1) + np.minimum(d.max(axis=-1), 0)
    import trimesh

    mesh = trimesh.Trimesh(mesh_vertices * size, faces, process=False)
    flat = points.reshape(-1, 3)
    return -trimesh.proximity.signed_distance(mesh, flat).reshape(points.shape[:-1])


def primitive_distances(occ: OccluderSet, points_world):
    """(T, O, N) signed distance of (T, N, 3) world points to every primitive in every frame."""
    out = np.empty((occ.n_frames, occ.num_primitives, points_world.shape[1]))
    for i in range(occ.num_primitives):
        pose = occ.pose[:, i]  # (T, 4, 4)
        local = np.einsum("tji,tnj->tni", pose[:, :3, :3], points_world - pose[:, None, :3, 3])
        mesh = occ.meshes[occ.mesh_index[i]] if occ.shape[i] == MESH else None
        out[:, i] = sdf(local, int(occ.shape[i]), occ.size[i],
                        None if mesh is None else mesh.vertices, None if mesh is None else mesh.faces)
    return out


def body_clearance(occ: OccluderSet, joints_world, body, spacing=0.01) -> float:
    """Smallest distance between any occluder primitive and any body capsule over all frames.

    Exact primitive SDFs at points every ``spacing`` metres along each capsule axis (the
    capsule ends, where a capsule's nearest point to a plane lies, included); negative when a
    capsule axis point lies inside an occluder.
    """
    a, b, radius = body.capsules(joints_world)  # (T, S, 3), (S,)
    n = int(np.ceil(np.linalg.norm(b - a, axis=-1).max() / spacing)) + 1
    lam = np.linspace(0.0, 1.0, n)
    pts = a[:, :, None] + lam[:, None] * (b - a)[:, :, None]  # (T, S, n, 3)
    d = primitive_distances(occ, pts.reshape(len(pts), -1, 3)).reshape(len(pts), -1, len(radius), n)
    return float((d - radius[:, None]).min())


# ----------------------------------------------------------------------------------- levels
def test_levels_within_tolerance(quick, placements):
    tol, budget = quick.occluders.tolerance, quick.occluders.max_evaluations
    for action, cam, level, p in placements:
        where = f"{action} {cam.name} level {level}"
        assert abs(p.achieved - level) <= tol, where
        assert p.achieved == float(p.labels.occluder_fraction.mean()), where
        assert 1 <= p.steps <= budget, where
        assert p.occluders.n_frames == FRAMES and p.labels.occluded.shape == (FRAMES, 17)
        if level == 0:
            assert p.occluders.num_primitives == 0 and p.steps == 1 and p.achieved == 0.0
        else:
            assert p.occluders.num_primitives >= 1
            assert np.array_equal(np.unique(p.occluders.group), np.arange(p.occluders.num_groups))


def test_walkers_are_occluded_unevenly_over_time(placements):
    """A walker passes behind occluders: its per-frame fraction varies, only the mean is set."""
    spread = [p.labels.occluder_fraction.std() for a, _, lv, p in placements if a == "walk" and lv >= 0.2]
    assert max(spread) > 0.1


def test_labels_are_those_of_the_placement(quick, clips, placements):
    for action, cam, level, p in placements[1::4]:
        joints_cam = world_to_camera(clips[action], cam).astype(np.float32).astype(np.float64)
        again = label_visibility(joints_cam, quick.body_model("S1"), cam,
                                 p.occluders.in_camera_frame(cam), PARAMS)
        for name, arr in p.labels.to_arrays().items():
            np.testing.assert_array_equal(arr, getattr(again, name), err_msg=f"{action} {level} {name}")


# ------------------------------------------------------------------------------- constraints
def test_clearance_floor_camera_and_image(quick, clips, placements):
    cfg = quick.occluders
    body = quick.body_model("S1")
    for action, cam, level, p in placements:
        occ, where = p.occluders, f"{action} {cam.name} level {level}"
        if not occ.num_primitives:
            continue
        assert body_clearance(occ, clips[action], body) >= cfg.clearance - 1e-6, where
        assert occ.world_aabb()[..., 0, 2].min() >= -1e-3, where  # nothing below the floor
        to_camera = primitive_distances(occ, np.broadcast_to(cam.position, (FRAMES, 1, 3)))
        assert to_camera.min() >= cfg.min_camera_distance - 1e-6, where  # camera well outside
        assert image_fraction(occ, cam, frames=10) <= cfg.max_image_fraction, where


def test_clearance_check_detects_intersection(quick, clips):
    """The checker itself: a box around the walker's hip intersects, one 1 m away does not."""
    body = quick.body_model("S1")
    hip = clips["walk"][:, 0]
    pose = np.tile(np.eye(4), (FRAMES, 1, 1, 1))
    pose[:, 0, :3, 3] = hip
    inside = OccluderSet.from_primitives([BOX], [(0.05, 0.05, 0.05)], pose)
    assert body_clearance(inside, clips["walk"], body) < 0
    pose[:, 0, :3, 3] = hip + [0.0, 0.0, 1.5]
    above = OccluderSet.from_primitives([SPHERE], [(0.1, 0.1, 0.1)], pose)
    assert 0.05 < body_clearance(above, clips["walk"], body) < 1.0


def test_growth_never_lowers_the_level(quick, clips):
    """The search's premise: f(s) is non-decreasing along the growth parameter of a layout."""
    cam = quick.camera_objects()[1]
    body = quick.body_model("S1")
    joints = clips["box"]
    stage = make_stage(joints, body, cam, 0.05, 1.0, 50.0)
    joints_cam = world_to_camera(joints, cam)
    rng = np.random.default_rng(5)
    layout = sample_layout(rng, stage, quick.occluders, (), 3)
    fractions = []
    for s in np.linspace(0, len(layout), 13):
        occ = build_set(layout, growths(layout, s), (), FRAMES)
        labels = label_visibility(joints_cam, body, cam, occ.in_camera_frame(cam), PARAMS)
        fractions.append(labels.occluded_by_object.sum())
    assert fractions[0] == 0 and np.all(np.diff(fractions) >= 0), fractions


# ---------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_other_seed_differs(quick, clips):
    cam = quick.camera_objects()[0]
    runs = [place(quick, clips["walk"], cam, 0.3, seed) for seed in (3, 3, 4)]
    a, b, c = ({k: v.tobytes() for k, v in r.occluders.to_arrays().items()} for r in runs)
    assert a == b
    assert runs[0].labels.visibility.tobytes() == runs[1].labels.visibility.tobytes()
    assert a != c


def test_static_occluders_keep_one_pose(quick, clips):
    cfg = OccluderSection(moving_probability=0.0)
    for lv in (0.2, 0.4):
        occ = place(quick, clips["walk"], quick.camera_objects()[1], lv, cfg=cfg).occluders
        assert np.array_equal(occ.pose, np.broadcast_to(occ.pose[:1], occ.pose.shape))


def test_moving_occluders_are_smooth(quick, clips):
    cfg = OccluderSection(kinds=["box", "sphere"], moving_probability=1.0, max_speed=1.2)
    moved = 0
    for seed, (action, lv) in enumerate([("walk", 0.2), ("walk", 0.4), ("box", 0.3), ("sit_down", 0.2)]):
        for cam in quick.camera_objects():
            occ = place(quick, clips[action], cam, lv, seed, cfg=cfg).occluders
            centre = occ.pose[..., :3, 3]  # (T, O, 3)
            step = np.linalg.norm(np.diff(centre, axis=0), axis=-1)  # (T-1, O)
            assert step.max() <= cfg.max_speed / quick.benchmark.fps + 1e-9
            accel = np.linalg.norm(np.diff(centre, 2, axis=0), axis=-1)
            assert accel.max() <= 0.01  # m per frame^2: no jumps or kinks
            moved += int((step.max(axis=0) > 1e-4).sum())
    assert moved >= 4


# ------------------------------------------------------------------------------ unreachable
def test_unreachable_level_names_sequence_and_best(quick, clips):
    cam = quick.camera_objects()[0]
    tiny = OccluderSection(kinds=["sphere"], max_size=0.04, max_evaluations=12)
    with pytest.raises(LevelNotReachedError, match=r"S1_cam0_0.5.*level 0.5.*best level found 0\.\d+"):
        place(quick, clips["box"], cam, 0.5, cfg=tiny)
    with pytest.raises(LevelNotReachedError, match=r"S1_cam0_0.3.*\+-0.05 after 12 label evaluations"):
        place(quick, clips["walk"], cam, 0.3, cfg=tiny)
    no_room = OccluderSection(min_camera_distance=6.0)
    with pytest.raises(LevelNotReachedError, match="no room for occluders"):
        place(quick, clips["box"], cam, 0.2, cfg=no_room)
    assert LevelNotReachedError.exit_code == 3


# -------------------------------------------------------------------------------- user meshes
def test_user_mesh_occluders(quick, clips, tmp_path):
    path = tmp_path / "props" / "crate.obj"
    path.parent.mkdir()
    path.write_text(BOX_OBJ)
    cfg = OccluderSection(kinds=["mesh"], meshes=["props/crate.obj"], mesh_size=[0.4, 1.2])
    cam = quick.camera_objects()[0]
    p = place(quick, clips["box"], cam, 0.3, cfg=cfg, base_dir=tmp_path)
    occ = p.occluders
    assert abs(p.achieved - 0.3) <= cfg.tolerance
    assert (occ.shape == MESH).all() and len(occ.meshes) == 1
    mesh = occ.meshes[0]
    assert mesh.name == "crate" and mesh.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert np.ptp(mesh.vertices, axis=0).max() == pytest.approx(1.0)  # normalised, on the floor
    assert mesh.vertices[:, 2].min() == 0.0
    assert body_clearance(occ, clips["box"], quick.body_model("S1")) >= cfg.clearance - 1e-6
    assert OccluderSet.from_arrays(occ.to_arrays()).meshes[0].sha256 == mesh.sha256


@pytest.mark.parametrize("content,message", [
    (None, "not found"),
    ("this is not a mesh\n", "no triangles"),
    ("v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n", "non-finite"),
    ("v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n", "degenerate"),
], ids=["missing", "garbage", "nan", "flat"])
def test_bad_mesh_files_name_the_file(quick, clips, tmp_path, content, message):
    path = tmp_path / "rock.obj"
    if content is not None:
        path.write_text(content)
    cfg = OccluderSection(kinds=["mesh"], meshes=["rock.obj"])
    with pytest.raises(ConfigError, match=f"rock.obj.*{message}"):
        place(quick, clips["box"], quick.camera_objects()[0], 0.2, cfg=cfg, base_dir=tmp_path)


def test_binary_mesh_formats(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    box = trimesh.creation.box((0.5, 0.2, 1.0))
    for suffix in ("ply", "stl", "glb"):
        path = tmp_path / f"b.{suffix}"
        box.export(path)
        mesh = load_user_mesh(path, up="y" if suffix == "glb" else "z")
        assert len(mesh.faces) == 12 and mesh.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "bad.glb").write_bytes(b"glTF" + bytes(40))
    with pytest.raises(ConfigError, match="bad.glb.*cannot parse"):
        load_user_mesh(tmp_path / "bad.glb")
    with pytest.raises(ConfigError, match="mesh_max_faces"):
        load_user_mesh(tmp_path / "b.ply", max_faces=4)


# ----------------------------------------------------------------------------- config keys
@pytest.mark.parametrize("override,message", [
    ("occluders.moving_probability=1.5", "'occluders.moving_probability' must be at most 1"),
    ("occluders.max_size=-1.0", "'occluders.max_size' must be greater than 0"),
    ("occluders.mesh_size=[0.5, -1.0]", "'occluders.mesh_size' must be greater than 0"),
    ("occluders.clearance=-0.05", "'occluders.clearance' must be at least 0"),
    ("occluders.max_speed=0", "'occluders.max_speed' must be greater than 0"),
    ('occluders.kinds=["wall", "tree"]', "'occluders.kinds' must be one of .*got 'tree'"),
    ("occluders.max_evaluations=0", "'occluders.max_evaluations' must be at least 1"),
    ("occluders.max_occluders=2.5", "'occluders.max_occluders' must be an integer"),
    ("occluders.mesh_size=[2.0, 1.0]", "'occluders.mesh_size' must be \\[smallest, largest\\]"),
    ('occluders.kinds=["mesh"]', "'occluders.kinds' includes 'mesh' but 'occluders.meshes'"),
    ('occluders.meshes=["a.obj"]', "'occluders.meshes' lists mesh files but 'occluders.kinds' lacks"),
    ('occluders.meshes=["a.txt"]', "'occluders.meshes\\[0\\]'.*must be a mesh file"),
    ("occluders.colour=1", "unknown key 'occluders.colour'"),
])
def test_bad_occluder_keys(tiny_preset, override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(tiny_preset, [override])


def test_occluder_section_checks_values_built_in_code():
    with pytest.raises(ConfigError, match="'occluders.moving_probability' must be at most 1"):
        OccluderSection(moving_probability=2.0)
    with pytest.raises(ConfigError, match="'occluders.kinds' must be one of"):
        OccluderSection(kinds=["cloud"])


def test_motion_paths_stay_bounded_on_long_clips():
    from occpose.occlusion.occluders import motion

    rng = np.random.default_rng(0)
    for _ in range(20):
        path = motion.slide(rng, 1500, 50.0, 0.3, 700, max_speed=1.2)  # 30 s
        assert np.abs(path - 0.3).max() <= 1.5 + 1e-9
        assert np.abs(np.diff(path)).max() <= 1.2 / 50 + 1e-12
        lat, z = motion.sway(rng, 1500, 50.0, 0.0, 1.0, 0.3, max_speed=0.5)
        assert np.linalg.norm(np.diff(np.stack([lat, z], 1), axis=0), axis=1).max() <= 0.5 / 50 + 1e-12
        assert z.min() >= 0.7 - 1e-9


def test_level_measured_in_the_stored_layout(quick, clips):
    """humaneva15 keeps 15 of the 17 joints: the level is that of the stored fraction."""
    from occpose.generate import to_layout
    from occpose.skeleton import get_skeleton

    humaneva = get_skeleton("humaneva15")
    cam = quick.camera_objects()[1]
    for lv in (0.2, 0.4):
        p = place(quick, clips["box"], cam, lv, skeleton=humaneva)
        stored = to_layout({k: v for k, v in p.labels.to_arrays().items()}, humaneva)
        assert p.achieved == float(stored["occluder_fraction"].mean())
        assert abs(p.achieved - lv) <= quick.occluders.tolerance
