"""The user's rigged character: a small Mixamo-named armature with a skinned box mesh, made
here, labelled by ray casts on its evaluated mesh; hand-computable joint states."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from occpose.errors import ConfigError  # noqa: E402
from occpose.skeleton import H36M_17  # noqa: E402
from occpose.viz.frames import OCCLUDED_BODY, OCCLUDED_OBJECT, OUT_OF_FRAME, VISIBLE  # noqa: E402

from blender_addon import bridge, character, rig_mappings, user_scene  # noqa: E402

from .test_blender_user_scene import cube_object, user_collection  # noqa: E402

pytestmark = pytest.mark.blender

# Mixamo bone -> (head, tail, box half width), world metres, character facing -y (the camera).
# The right arm reaches behind the torso (+y), the left arm far out to the side (out of frame).
BONES = {
    "Hips": ((0, 0, 1.0), (0, 0, 1.15), 0.15),
    "Spine1": ((0, 0, 1.15), (0, 0, 1.45), 0.15),
    "Neck": ((0, 0, 1.45), (0, 0, 1.55), 0.04),
    "Head": ((0, 0, 1.55), (0, 0, 1.75), 0.08),
    "LeftUpLeg": ((0.1, 0, 1.0), (0.1, 0, 0.55), 0.05),
    "LeftLeg": ((0.1, 0, 0.55), (0.1, 0, 0.1), 0.04),
    "LeftFoot": ((0.1, 0, 0.1), (0.1, -0.15, 0.02), 0.03),
    "RightUpLeg": ((-0.1, 0, 1.0), (-0.1, 0, 0.55), 0.05),
    "RightLeg": ((-0.1, 0, 0.55), (-0.1, 0, 0.1), 0.04),
    "RightFoot": ((-0.1, 0, 0.1), (-0.1, -0.15, 0.02), 0.03),
    "LeftArm": ((0.2, 0, 1.4), (0.7, 0, 1.4), 0.04),
    "LeftForeArm": ((0.7, 0, 1.4), (1.5, 0, 1.4), 0.03),
    "LeftHand": ((1.5, 0, 1.4), (1.6, 0, 1.4), 0.03),
    "RightArm": ((-0.2, 0, 1.4), (-0.25, 0.3, 1.35), 0.04),
    "RightForeArm": ((-0.25, 0.3, 1.35), (0.0, 0.35, 1.3), 0.03),
    "RightHand": ((0.0, 0.35, 1.3), (0.05, 0.4, 1.25), 0.03),
}

PARENTS = {"Spine1": "Hips", "Neck": "Spine1", "Head": "Neck", "LeftUpLeg": "Hips", "LeftLeg": "LeftUpLeg",
           "LeftFoot": "LeftLeg", "RightUpLeg": "Hips", "RightLeg": "RightUpLeg", "RightFoot": "RightLeg",
           "LeftArm": "Spine1", "LeftForeArm": "LeftArm", "LeftHand": "LeftForeArm", "RightArm": "Spine1",
           "RightForeArm": "RightArm", "RightHand": "RightForeArm"}


def bone_box(head, tail, half):
    """8 corners and 6 quads of a box of half width ``half`` around the segment head-tail."""
    a, b = np.asarray(head, float), np.asarray(tail, float)
    z = (b - a) / np.linalg.norm(b - a)
    x = np.cross([0.0, 0.0, 1.0] if abs(z[2]) < 0.9 else [1.0, 0.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    corners = [c + half * (sx * x + sy * y) for c in (a, b) for sy in (-1, 1) for sx in (-1, 1)]
    quads = [(0, 2, 3, 1), (4, 5, 7, 6), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2), (1, 3, 7, 5)]
    return np.array(corners), quads


def make_character(scene, prefix="mixamorig:"):
    """Armature (bones of BONES, no parents needed) with a skinned mesh of boxes; the armature
    moves 10 m sideways at frame 2 (everything out of frame)."""
    arm = bpy.data.objects.new("TestRig", bpy.data.armatures.new("TestRig"))
    scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for name, (head, tail, _) in BONES.items():
        eb = arm.data.edit_bones.new(prefix + name)
        eb.head, eb.tail = head, tail
    for name, parent in PARENTS.items():
        arm.data.edit_bones[prefix + name].parent = arm.data.edit_bones[prefix + parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    verts, faces, groups = [], [], []
    for name, (head, tail, half) in BONES.items():
        c, q = bone_box(head, tail, half)
        faces += [tuple(i + len(verts) for i in f) for f in q]
        groups.append((prefix + name, list(range(len(verts), len(verts) + 8))))
        verts += c.tolist()
    mesh = bpy.data.meshes.new("TestBody")
    mesh.from_pydata(verts, [], faces)
    body = bpy.data.objects.new("TestBody", mesh)
    scene.collection.objects.link(body)
    for name, idx in groups:
        body.vertex_groups.new(name=name).add(idx, 1.0, "REPLACE")
    body.modifiers.new("armature", "ARMATURE").object = arm
    body.parent = arm  # as rigs are set up: the mesh follows the armature object
    for t, x in ((0, 0.0), (1, 0.0), (2, 10.0)):
        arm.location = (x, 0.0, 0.0)
        arm.keyframe_insert("location", frame=t)
    return arm, body


def camera_object(scene):
    """A camera 4 m in front (-y) at hip height, looking +y, about 2 m wide at the character."""
    cam = bpy.data.objects.new("TestCam", bpy.data.cameras.new("TestCam"))
    scene.collection.objects.link(cam)
    cam.location = (0.0, -4.0, 1.0)
    cam.rotation_euler = (np.pi / 2, 0.0, 0.0)
    cam.data.sensor_fit, cam.data.sensor_width, cam.data.lens = "HORIZONTAL", 36.0, 72.0
    scene.camera = cam
    scene.render.resolution_x = scene.render.resolution_y = 200
    scene.render.resolution_percentage = 100
    return cam


@pytest.fixture
def rigged():
    scene = bpy.data.scenes.new("OccPose Character Test")
    arm, body = make_character(bpy.context.scene)
    for obj in (arm, body):  # the test scene holds them too (bpy.context.scene is the active one)
        scene.collection.objects.link(obj)
    cam = camera_object(scene)
    scene.frame_set(0)  # a new scene has no depsgraph before its first evaluation
    coll = user_collection("Test Character Walls")
    scene.collection.children.link(coll)
    wall = cube_object("wall", coll, 1.0)  # 0.6 x 0.1 x 0.6 m in front of the feet
    wall.scale = (0.3, 0.05, 0.3)
    wall.location = (0.1, -1.0, 0.3)
    yield scene, arm, body, coll
    for obj in (body, arm, wall, cam):
        bpy.data.objects.remove(obj)
    bpy.data.scenes.remove(scene)


def test_mappings_resolve_names_and_list_unmapped_joints():
    names, mapping = rig_mappings.choose_mapping([f"mixamorig:{b}" for b in BONES])
    assert names == "mixamo" and mapping["Head"] == [("mixamorig:Head", "tail")]
    rigify = ["DEF-spine", "DEF-spine.002", "DEF-spine.004", "DEF-spine.006"] + [
        f"DEF-{b}.{s}" for b in ("thigh", "shin", "foot", "upper_arm", "forearm") for s in "LR"]
    with pytest.raises(ConfigError, match="no bone for joints LWrist, RWrist"):
        rig_mappings.choose_mapping(rigify)
    assert rig_mappings.choose_mapping(rigify + ["DEF-hand.L", "hand.R"])[0] == "rigify"


def test_mapping_file(tmp_path):
    path = tmp_path / "rig.toml"
    path.write_text('[joints]\nHip = [["l_hip", "head"], ["r_hip", "head"]]\nHead = ["skull", "tail"]\n')
    mapping = rig_mappings.load_mapping(path)
    resolved, missing = rig_mappings.resolve(mapping, ["l_hip", "r_hip", "skull"])
    assert resolved["Hip"] == [("l_hip", "head"), ("r_hip", "head")] and "Head" in resolved
    assert len(missing) == 15 and missing[0] == "RHip"
    path.write_text('[joints]\nNose = ["skull", "tail"]\n')
    with pytest.raises(ConfigError, match="unknown joint 'Nose'"):
        rig_mappings.load_mapping(path)
    path.write_text('[joints]\nHead = ["skull", "middle"]\n')
    with pytest.raises(ConfigError, match=r"joints.Head must be \[bone"):
        rig_mappings.load_mapping(path)


def test_character_joint_states(rigged):
    scene, arm, body, coll = rigged
    char = character.find_character(arm.name)
    assert char.meshes == [body] and char.mapping_name == "mixamo"
    camera = bridge.camera_from_scene(scene)
    occ = user_scene.read_occluders(scene, coll, 3)
    result = character.label_character(scene, char, camera, range(3), occ)
    j = H36M_17.index
    np.testing.assert_allclose(result.clip.joints_world[0, j("RWrist")], (0.0, 0.35, 1.3), atol=1e-6)
    np.testing.assert_allclose(result.clip.joints_world[0, j("Head")], (0.0, 0.0, 1.75), atol=1e-6)
    states = np.zeros(result.labels.visibility.shape, np.int8)
    lab = result.labels
    states[lab.occluded_by_body], states[lab.occluded_by_object], states[lab.out_of_frame] = 1, 2, 3
    assert states[0, j("LFoot")] == OCCLUDED_OBJECT  # behind the wall
    assert states[0, j("RWrist")] == OCCLUDED_BODY  # the hand behind the torso
    assert states[0, j("LWrist")] == OUT_OF_FRAME  # the left arm reaches out of the image
    assert states[0, j("Head")] == VISIBLE and states[0, j("LKnee")] == VISIBLE
    assert states[0, j("RHip")] == VISIBLE  # inside the pelvis box, its parent bone's: own skin
    part = result.body.part_names.index
    assert result.body.own[j("RHip")].nonzero()[0].tolist() == sorted(
        [part("mixamorig:RightUpLeg"), part("mixamorig:Hips")])
    np.testing.assert_array_equal(states[1], states[0])  # same pose
    assert (states[2] == OUT_OF_FRAME).all()  # the armature moved 10 m sideways
    np.testing.assert_allclose(result.body.joint_radius[j("Head")], 0.08 * np.sqrt(2), rtol=1e-6)


def test_missing_character_parts_are_named(rigged):
    scene, arm, body, _ = rigged
    with pytest.raises(ConfigError, match="'NoRig': no armature"):
        character.find_character("NoRig")
    body.modifiers.clear()
    with pytest.raises(ConfigError, match="no mesh is deformed by it"):
        character.find_character(arm.name)


def test_label_character_operator_keys_markers(rigged):
    """The panel's operator: the context scene holds the character; markers are keyed per frame."""
    import blender_addon

    scene, arm, body, coll = rigged
    ctx_scene = bpy.context.scene
    cam = camera_object(ctx_scene)
    blender_addon.register()
    try:
        u = ctx_scene.occpose_user
        with pytest.raises(RuntimeError, match="pick your character"):
            bpy.ops.occpose.label_character()
        u.armature, u.occluders = arm, "No Such Walls"
        with pytest.raises(RuntimeError, match="'No Such Walls' not found"):
            bpy.ops.occpose.label_character()
        if coll.name not in ctx_scene.collection.children:
            ctx_scene.collection.children.link(coll)
        u.occluders = coll.name
        ctx_scene.frame_start, ctx_scene.frame_end = 1, 2
        assert bpy.ops.occpose.label_character() == {"FINISHED"}
        marker = bpy.data.objects["occpose_character_06_LFoot"]
        ctx_scene.frame_set(1)
        assert tuple(marker.color) == pytest.approx(bridge.STATE_COLORS[OCCLUDED_OBJECT])
        ctx_scene.frame_set(2)
        assert tuple(marker.color) == pytest.approx(bridge.STATE_COLORS[OUT_OF_FRAME])
        ctx_scene.frame_end = 1  # frame 2 is out of frame: no level to reach there
        ctx_scene.occpose.level = 0.4
        assert bpy.ops.occpose.place_character_occluders() == {"FINISHED"}
        placed = [o for o in ctx_scene.objects if o.get("occpose_role") == "occluder"]
        assert placed and all(o.animation_data is None or o.animation_data.action is not None for o in placed)
        assert bpy.ops.occpose.label_character() == {"FINISHED"}  # counts the placed ones
        ctx_scene.frame_set(1)
        hidden = [o for o in bpy.data.objects if o.name.startswith("occpose_character_")
                  and tuple(o.color) == pytest.approx(bridge.STATE_COLORS[OCCLUDED_OBJECT])]
        assert abs(len(hidden) / 17 - 0.4) <= 0.15
    finally:
        u.occluders, u.armature = user_scene.DEFAULT_COLLECTION, None  # settings stay on the scene
        bridge.clear(ctx_scene, ("Character Markers", bridge.OCCLUDERS))
        ctx_scene.collection.children.unlink(coll)
        bpy.data.objects.remove(cam)
        blender_addon.unregister()


def test_scene_benchmark_of_the_character(rigged, tmp_path):
    """The headless path: an occpose benchmark of the user's scene, read back like any other."""
    from occpose.dataset import open_benchmark

    from blender_addon import character_bench

    scene, arm, _body, coll = rigged
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.render_aa = "OFF"
    scene.render.resolution_x = scene.render.resolution_y = 64
    out = tmp_path / "mine"
    argv = ["--scene-character", arm.name, "--occluders", coll.name, "--frames", "0:2", "--stride", "2",
            "--out", str(out), "--quiet"]
    args = character_bench.build_parser().parse_args(argv)
    manifest = character_bench.render_scene_benchmark(args, scene)
    assert manifest["status"] == "complete" and manifest["scene"]["mapping"] == "mixamo"
    bench = open_benchmark(out)
    seq = bench.load(bench.entries[0])
    names = (arm.name, arm.animation_data.action.name, scene.camera.name)  # armature, action, camera
    assert seq.id == "_".join(character_bench.safe_name(n) for n in names) + "_L000"
    j = H36M_17.index
    assert seq.occluded_by_object[0, j("LFoot")] and seq.occluded_by_body[0, j("RWrist")]
    assert seq.out_of_frame[0, j("LWrist")] and seq.out_of_frame[2].all()
    assert [m.name for m in seq.occluders().meshes] == ["wall"]
    assert seq.mask_visible_fraction[0] < 1.0 and seq.mask_visible_fraction[2] == 1.0
    np.testing.assert_array_equal(seq.rendered, [True, False, True])
    assert (out / "sequences" / seq.id / "frames" / "000002.png").is_file()
    assert (out / "sequences" / seq.id / "masks" / "000000.png").is_file()
    # the labels re-derive from the files alone: arrays.npz + body_mesh.npz + the manifest
    from occpose.camera import world_to_camera
    from occpose.dataset import read_npz
    from occpose.occlusion.raycast import mesh_body
    from occpose.occlusion.raycast.visibility import VisibilityParams

    extra = bench.entries[0].extra
    stored = read_npz(out / extra["body_mesh"], extra["body_mesh_sha256"])
    verts, mb = mesh_body.body_mesh_from_arrays(stored, 3, 17)
    cam = bench.cameras[seq.entry.camera]
    again = mesh_body.label_mesh_body(seq.joints_3d_cam.astype(np.float64), world_to_camera(verts, cam), mb, cam,
                                      seq.occluders().in_camera_frame(cam), VisibilityParams(**bench.manifest["visibility"]))
    for name, value in again.to_arrays().items():
        np.testing.assert_array_equal(value, seq.arrays[name], err_msg=name)
    before = (out / "manifest.json").read_bytes()
    character_bench.render_scene_benchmark(args, scene)  # resumes: nothing to do
    assert (out / "manifest.json").read_bytes() == before
    with pytest.raises(ConfigError, match="--frames '2:0'"):
        character_bench.render_scene_benchmark(character_bench.build_parser().parse_args(
            argv[:4] + ["--frames", "2:0", "--out", str(out)]), scene)


def test_scene_benchmark_places_occluders_for_a_level(rigged, tmp_path):
    """--level: occpose's occluders placed around the user's character hit the level, measured by
    the mesh-body ray casts with the user's wall included, and are stored and rendered."""
    from occpose.dataset import open_benchmark

    from blender_addon import character_bench

    scene, arm, _body, coll = rigged
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x = scene.render.resolution_y = 48
    for t in (0, 1, 2):  # stays in view
        arm.location = (0.0, 0.0, 0.0)
        arm.keyframe_insert("location", frame=t)
    out = tmp_path / "levels"
    args = character_bench.build_parser().parse_args([
        "--scene-character", arm.name, "--occluders", coll.name, "--frames", "1:2", "--stride", "1",
        "--level", "0.4", "--out", str(out), "--quiet"])
    manifest = character_bench.render_scene_benchmark(args, scene)
    entry = manifest["sequences"][0]
    assert entry["id"].endswith("_L040") and abs(entry["achieved_level"] - 0.4) <= 0.05
    seq = open_benchmark(out).load(entry["id"])
    occ = seq.occluders()
    assert occ.num_primitives > 1 and occ.meshes[-1].name == "wall"  # placed ones, then the user's
    assert (out / "sequences" / entry["id"] / "frames" / "000001.png").is_file()
    assert not [o for o in scene.objects if o.get("occpose_role") == "occluder"]  # cleared after


def test_rigify_metarig_maps_all_joints():
    """The built-in Rigify mapping on Blender's own human metarig: every joint found, at
    anatomically sensible places (character facing -y, its left at +x). (Generated rigs' DEF-
    bones are covered by test_mappings_resolve_names_and_list_unmapped_joints; tried by hand on
    a rig generated from this metarig.)"""
    import addon_utils

    if addon_utils.enable("rigify", default_set=True) is None:
        pytest.skip("the rigify add-on is not available in this Blender")
    scene = bpy.context.scene
    bpy.ops.object.armature_human_metarig_add()
    metarig = bpy.context.active_object
    try:
        name, mapping = rig_mappings.choose_mapping([b.name for b in metarig.data.bones])
        assert name == "rigify" and mapping["LWrist"] == [("hand.L", "head")]
        scene.frame_set(0)
        joints = character.joints_of(metarig.evaluated_get(bridge.compat.view_layer_depsgraph(scene)), mapping)
        j = H36M_17.index
        assert joints[j("Head"), 2] == joints[:, 2].max() and joints[j("RFoot"), 2] < 0.2
        assert joints[j("LShoulder"), 0] > 0.1 > -0.1 > joints[j("RShoulder"), 0]
        assert joints[j("LKnee"), 2] < joints[j("LHip"), 2] < joints[j("Spine"), 2] < joints[j("Thorax"), 2]
    finally:
        bpy.data.objects.remove(metarig)


def test_subdivided_character_keeps_its_weights(rigged):
    """A Subdivision modifier after the Armature one: more vertices, weights read from the
    evaluated mesh, the same hand-computable states."""
    scene, arm, body, coll = rigged
    body.modifiers.new("subsurf", "SUBSURF").levels = 1
    char = character.find_character(arm.name)
    result = character.label_character(scene, char, bridge.camera_from_scene(scene), range(1),
                                       user_scene.read_occluders(scene, coll, 1))
    assert result.clip.vertices_world.shape[1] > len(body.data.vertices)
    j = H36M_17.index
    lab = result.labels
    assert lab.occluded_by_object[0, j("LFoot")] and lab.occluded_by_body[0, j("RWrist")]
    assert lab.out_of_frame[0, j("LWrist")] and not lab.occluded[0, j("Head")]
