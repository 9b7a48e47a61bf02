"""The user's own objects occlude: a collection of meshes blocks rays, is stored as mesh
occluders and re-derives the labels with the analytic backend."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from occpose.config import load_config  # noqa: E402
from occpose.dataset import open_benchmark  # noqa: E402
from occpose.errors import ConfigError  # noqa: E402
from occpose.generate import SequenceKey, motion_world  # noqa: E402
from occpose.occlusion.occluders.geometry import MESH, OccluderSet  # noqa: E402
from occpose.occlusion.raycast.visibility import label_visibility  # noqa: E402

from blender_addon import bridge, labels, pipeline, render, sequence, user_scene  # noqa: E402

from .test_blender_fixtures import write_tiny  # noqa: E402

pytestmark = pytest.mark.blender


def cube_object(name: str, coll, half: float):
    """A cube mesh object of half size ``half`` linked into ``coll``."""
    v = [(x, y, z) for z in (-half, half) for y in (-half, half) for x in (-half, half)]
    f = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(v, [], f)
    obj = bpy.data.objects.new(name, mesh)
    coll.objects.link(obj)
    return obj


def user_collection(name: str):
    coll = bpy.data.collections.get(name) or bpy.data.collections.new(name)
    for obj in list(coll.objects):
        bpy.data.objects.remove(obj)
    return coll


def between(joints_world, camera, f: float) -> np.ndarray:
    """(T, 3) points a fraction ``f`` of the way from the pelvis to the camera."""
    root = joints_world[:, 0]
    return root + f * (np.asarray(camera.position) - root)


def key_location(obj, locations) -> None:
    for t, loc in enumerate(locations):
        obj.location = [float(x) for x in loc]
        obj.keyframe_insert("location", frame=t)


def scene_inputs(tmp_path, frames=8):
    cfg = load_config(write_tiny(tmp_path, frames=frames, res=128, levels=[0.0]))
    joints = motion_world(cfg, "S1", "walk")
    cam = cfg.camera_objects(rendered=True)[0]
    key = SequenceKey("S1", "walk", "cam0", 0.0)
    inputs = sequence.SequenceInputs(key, joints, cam, cfg.body_model("S1"), OccluderSet.empty(frames))
    scene = bridge.ensure_scene("OccPose User Test")
    render.configure(scene, cfg.render, seed=0)
    sequence.build_scene(scene, cfg, inputs, with_occluders=False)
    return cfg, inputs, scene


def blender_labels(cfg, inputs, scene):
    caster = sequence.ray_caster(scene, inputs, sequence.visibility_params(cfg))
    return labels.label_scene(scene, caster, inputs.joints_cam, inputs.body, inputs.camera)


def test_user_cube_hides_joints_as_an_object(tmp_path):
    cfg, inputs, scene = scene_inputs(tmp_path)
    before = blender_labels(cfg, inputs, scene)
    coll = user_collection("Test Cube Occluders")
    scene.collection.children.link(coll)
    cube = cube_object("user_cube", coll, 0.75)  # a 1.5 m cube half way to the camera
    key_location(cube, between(inputs.joints_world, inputs.camera, 0.5))
    inputs = user_scene.with_scene_occluders(scene, inputs, coll.name)
    occ = inputs.scene_occluders
    assert occ.num_primitives == 1 and occ.shape[0] == MESH and len(occ.meshes[0].faces) == 12
    after = blender_labels(cfg, inputs, scene)
    in_frame = ~after.out_of_frame
    assert before.occluded_by_object.sum() == 0
    assert after.occluded_by_object[in_frame].all()  # the cube hides every joint in frame
    ref = label_visibility(inputs.joints_cam, inputs.body, inputs.camera,
                           inputs.all_occluders.in_camera_frame(inputs.camera),
                           sequence.visibility_params(cfg))
    assert labels.agreement(after, ref) == 1.0
    scene.collection.children.unlink(coll)


def test_modifiers_scale_and_motion_are_read_evaluated(tmp_path):
    """An Array modifier doubles the cube, a rotated, scaled object moves: the stored mesh and
    poses reproduce Blender's evaluated world vertices."""
    _cfg, inputs, scene = scene_inputs(tmp_path, frames=4)
    coll = user_collection("Test Modified Occluders")
    scene.collection.children.link(coll)
    obj = cube_object("user_array", coll, 0.1)
    mod = obj.modifiers.new("array", "ARRAY")
    mod.count = 2
    obj.scale = (1.0, 2.0, 0.5)
    obj.rotation_euler = (0.3, 0.2, 1.0)
    key_location(obj, [(0.1 * t, 0.5, 1.0) for t in range(4)])
    occ = user_scene.read_occluders(scene, coll, 4)
    assert len(occ.meshes[0].vertices) == 16
    depsgraph = bridge.compat.view_layer_depsgraph(scene)
    for t in range(4):
        scene.frame_set(t)
        ev = obj.evaluated_get(depsgraph)
        world = np.array([ev.matrix_world @ v.co for v in ev.to_mesh().vertices])
        ev.to_mesh_clear()
        pose = occ.pose[t, 0]
        stored = occ.mesh_vertices(0) @ pose[:3, :3].T + pose[:3, 3]
        np.testing.assert_allclose(stored, world, atol=1e-5)
    scene.collection.children.unlink(coll)


def test_deforming_object_is_refused(tmp_path):
    _cfg, _inputs, scene = scene_inputs(tmp_path, frames=3)
    coll = user_collection("Test Deforming Occluders")
    obj = cube_object("user_growing", coll, 0.2)
    for t in range(3):
        obj.scale = (1.0 + t, 1.0, 1.0)
        obj.keyframe_insert("scale", frame=t)
    with pytest.raises(ConfigError, match="not in scene"):
        user_scene.read_occluders(scene, coll, 3)
    scene.collection.children.link(coll)
    with pytest.raises(ConfigError, match="user_growing.*changes shape at frame 1"):
        user_scene.read_occluders(scene, coll, 3)
    scene.collection.children.unlink(coll)


def test_own_collections_and_missing_names_are_refused():
    scene = bridge.ensure_scene("OccPose User Test")
    bridge.collection(scene, bridge.OCCLUDERS)
    with pytest.raises(ConfigError, match="add-on's own"):
        user_scene.find_collection(scene, f"{scene.name} {bridge.OCCLUDERS}")
    with pytest.raises(ConfigError, match="'No Such' not found"):
        user_scene.find_collection(scene, "No Such")


def test_render_benchmark_stores_user_meshes_that_rederive_the_labels(tmp_path):
    cfg = load_config(write_tiny(tmp_path, frames=6, res=96, levels=[0.2]))
    cfg_joints = motion_world(cfg, "S1", "walk")
    cam = cfg.camera_objects(rendered=True)[0]
    coll = user_collection("Test Render Occluders")
    cube = cube_object("user_panel", coll, 0.2)
    cube.scale = (1.0, 0.2, 2.0)
    key_location(cube, between(cfg_joints, cam, 0.3) + [0.0, 0.0, -0.3])
    out = tmp_path / "bench"
    manifest = pipeline.render_benchmark(cfg, out, quiet=True, occluder_collection=coll.name)
    assert manifest["status"] == "complete"
    bench = open_benchmark(out)
    for entry in manifest["sequences"]:
        assert entry["extra"]["analytic_agreement"] >= 0.99
        seq = bench.load(entry["id"])
        occ = seq.occluders()
        assert "user_panel" in [m.name for m in occ.meshes]
        if entry["subject"] == "S1":
            assert seq.arrays["occluded_by_object"].any()
        cam_seq = bench.cameras[entry["camera"]]
        ref = label_visibility(seq.arrays["joints_3d_cam"].astype(np.float64), bench.body_models[entry["subject"]],
                               cam_seq, occ.in_camera_frame(cam_seq), sequence.visibility_params(cfg))
        stored = labels.joint_states(labels_of(seq.arrays))
        assert (labels.joint_states(ref) == stored).mean() >= 0.99
    scene = bpy.data.scenes[user_scene.RENDER_SCENE]
    assert coll.name in scene.collection.children  # rendered too


def labels_of(arrays):
    from occpose.occlusion.raycast.visibility import VisibilityLabels

    return VisibilityLabels(**{k: arrays[k] for k in (
        "visibility", "occluded", "occluded_by_body", "occluded_by_object", "out_of_frame",
        "occluder_fraction", "self_occlusion_fraction")})


def test_command_line_names_a_missing_collection(tmp_path, capsys):
    preset = write_tiny(tmp_path, frames=3)
    code = pipeline.main(["--config", str(preset), "--out", str(tmp_path / "b"), "--occluders", "No Such"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "'No Such' not found" in err[0]


def test_changed_user_objects_are_a_different_benchmark(tmp_path):
    from occpose.errors import DatasetError

    cfg = load_config(write_tiny(tmp_path, frames=3, res=32, stride=10, levels=[0.0]))
    coll = user_collection("Test Identity Occluders")
    cube = cube_object("user_box", coll, 0.2)
    cube.location = (1.0, 1.0, 1.0)
    out = tmp_path / "bench"
    first = pipeline.render_benchmark(cfg, out, quiet=True, occluder_collection=coll.name)
    assert first["name"].startswith("tiny-blender+scene-")
    cube.location = (1.2, 1.0, 1.0)
    with pytest.raises(DatasetError, match="different configuration"):
        pipeline.render_benchmark(cfg, out, quiet=True, occluder_collection=coll.name)
    second = pipeline.render_benchmark(cfg, out, quiet=True, occluder_collection=coll.name, overwrite=True)
    assert second["config_sha256"] != first["config_sha256"]
