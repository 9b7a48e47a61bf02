"""Blender ray-cast labels agree with the analytic labels; masks agree with the renders."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from occpose.config import load_config  # noqa: E402
from occpose.generate import SequenceKey, motion_world  # noqa: E402
from occpose.occlusion.raycast.visibility import (label_visibility, labels_from_counts,  # noqa: E402
                                                 out_of_frame_mask)

from blender_addon import bridge, compat, labels, masks, raygeom, render, sequence  # noqa: E402

from .test_blender_fixtures import handmade_occluders, write_tiny  # noqa: E402

pytestmark = pytest.mark.blender


def built(tmp_path, frames=40, level=None, res=128):
    """(cfg, inputs, scene) for S1 walking, hand-made occluders (level None) or placed ones."""
    cfg = load_config(write_tiny(tmp_path, frames=frames, res=res, levels=[level or 0.0]))
    joints = motion_world(cfg, "S1", "walk")
    cam = cfg.camera_objects(rendered=True)[0]
    key = SequenceKey("S1", "walk", "cam0", level or 0.0)
    if level is None:
        occ = handmade_occluders(joints, cam.position)
        inputs = sequence.SequenceInputs(key, joints, cam, cfg.body_model("S1"), occ)
    else:
        inputs = sequence.place(cfg, key, joints, cam, cfg.camera_objects()[0])
    scene = bridge.ensure_scene("OccPose Test")
    render.configure(scene, cfg.render, seed=0)
    sequence.build_scene(scene, cfg, inputs)
    return cfg, inputs, scene


def blender_labels(cfg, inputs, scene):
    caster = sequence.ray_caster(scene, inputs, sequence.visibility_params(cfg))
    return labels.label_scene(scene, caster, inputs.joints_cam, inputs.body, inputs.camera)


def test_labels_agree_with_analytic_on_every_shape(tmp_path):
    cfg, inputs, scene = built(tmp_path)
    lab = blender_labels(cfg, inputs, scene)
    occ_cam = inputs.occluders.in_camera_frame(inputs.camera)
    ref = label_visibility(inputs.joints_cam, inputs.body, inputs.camera, occ_cam,
                           sequence.visibility_params(cfg))
    assert ref.occluded_by_object.mean() > 0.2 and ref.occluded_by_body.mean() > 0.05  # a real test
    assert labels.agreement(lab, ref) >= 0.99
    assert np.abs(lab.visibility - ref.visibility).mean() < 0.01


@pytest.mark.parametrize("level", [0.1, 0.3])
def test_labels_agree_with_placement(tmp_path, level):
    cfg, inputs, scene = built(tmp_path, frames=30, level=level)
    assert labels.agreement(blender_labels(cfg, inputs, scene), inputs.analytic) >= 0.99


def test_non_blockers_are_skipped(tmp_path):
    """Joint markers sit on the joints and the floor under them; labels must not change."""
    cfg, inputs, scene = built(tmp_path, frames=6)
    before = labels.joint_states(blender_labels(cfg, inputs, scene))
    bridge.joint_markers(scene, inputs.joints_world, before, inputs.body.skeleton.joint_names)
    np.testing.assert_array_equal(labels.joint_states(blender_labels(cfg, inputs, scene)), before)


def test_visible_mask_matches_flat_render(tmp_path):
    """White body, black occluders and background, flat shading: white pixels = visible mask."""
    cfg, inputs, scene = built(tmp_path, frames=40, res=128)
    scene.display.shading.light = "FLAT"
    scene.display.shading.show_shadows = False
    scene.display.render_aa = "OFF"
    scene.world.color = (0.0, 0.0, 0.0)
    for obj in bridge.collection(scene, bridge.SCENERY).objects:
        obj.hide_render = obj.type == "MESH"
    for name, color in ((bridge.BODY, 1.0), (bridge.OCCLUDERS, 0.0)):
        for obj in bridge.collection(scene, name).objects:
            obj.data.materials[0].diffuse_color = (color, color, color, 1.0)
    from PIL import Image

    occ_cam = inputs.occluders.in_camera_frame(inputs.camera)
    for t in (0, 13, 39):  # different poses: catches renders that do not follow the animation
        scene.frame_set(t)
        render.render_frame(scene, tmp_path / f"{t}.png")
        white = np.asarray(Image.open(tmp_path / f"{t}.png").convert("L")) > 127
        visible, subject = masks.subject_masks(inputs.joints_cam[t], inputs.body, inputs.camera,
                                               occ_cam.select_frames(t))
        assert visible.sum() > 50 and subject.sum() > visible.sum()
        iou = (white & visible).sum() / (white | visible).sum()
        assert iou > 0.9, (t, iou)


def test_batch_caster_equals_reference_caster(tmp_path):
    """The pipeline's BatchRayCaster (culling + per-object BVH trees) gives the reference
    RayCaster's (scene.ray_cast walk) counts on every frame, with every occluder shape."""
    cfg, inputs, scene = built(tmp_path, frames=24)
    params = sequence.visibility_params(cfg)
    blockers = bridge.blockers(scene)
    origin = np.asarray(inputs.camera.position, np.float64)
    ref = labels.RayCaster(scene, blockers, inputs.body.incidence, params, origin)
    fast = labels.BatchRayCaster(scene, blockers, inputs.body.incidence, params, origin)
    a = labels.label_scene(scene, ref, inputs.joints_cam, inputs.body, inputs.camera)
    b = labels.label_scene(scene, fast, inputs.joints_cam, inputs.body, inputs.camera)
    assert a.occluded_by_object.any() and a.occluded_by_body.any()  # both kinds are exercised
    for name, x in a.to_arrays().items():
        np.testing.assert_array_equal(getattr(b, name), x, err_msg=name)


def test_bounding_capsule_holds_the_vertices():
    rng = np.random.default_rng(1)
    for verts in (rng.normal(size=(50, 3)) * [0.1, 0.2, 1.0], rng.normal(size=(1, 3)),
                  np.array([[0.0, 0, 0], [0, 0, 0.5]])):
        p0, p1, r = raygeom.bounding_capsule(verts)
        axis = p1 - p0
        t = np.clip(((verts - p0) @ axis) / max(axis @ axis, 1e-30), 0, 1)
        dist = np.linalg.norm(verts - (p0 + t[:, None] * axis), axis=1)
        assert (dist <= r + 1e-12).all() and r <= np.linalg.norm(verts - verts.mean(0), axis=1).max() * 2 + 1e-12


def test_segments_within_matches_sampling():
    rng = np.random.default_rng(2)
    origin, u = rng.normal(size=3), rng.normal(size=(60, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    p0 = rng.normal(size=(5, 3))
    p1 = p0 + rng.normal(size=(5, 3))
    p1[0] = p0[0]  # a ball
    length, radius = rng.uniform(0, 4, (60, 5)), rng.uniform(0.2, 0.9, 5)
    got = raygeom.segments_within(origin, u, length, p0, p1, radius)
    s = np.linspace(0, 1, 4001)
    for r in range(60):
        for o in range(5):
            pts = origin + (s * length[r, o])[:, None] * u[r]
            d2 = p1[o] - p0[o]
            t = np.clip((pts - p0[o]) @ d2 / max(d2 @ d2, 1e-30), 0, 1)
            dist = np.linalg.norm(pts - (p0[o] + t[:, None] * d2), axis=1).min()
            if abs(dist - radius[o]) > 1e-3:  # away from the sampling resolution
                assert got[r, o] == (dist <= radius[o]), (r, o)


def _masks_by_brute_force(joints_cam, body, camera, occ):
    """Every pixel against every capsule and occluder primitive (the definition of the masks)."""
    from occpose.occlusion.raycast import primitives
    from blender_addon import distortion

    rays = distortion.pixel_rays(camera).reshape(-1, 3)
    a, b, radius = body.capsules(joints_cam)
    t_body = np.min([primitives.ray_capsule(np.zeros(3), rays, a[s], b[s], radius[s])
                     for s in range(len(a))], axis=0)
    t_obj = primitives.ray_occluders(np.zeros_like(rays), rays, occ,
                                     frames=np.zeros(len(rays), np.int64)).min(axis=1)
    subject = np.isfinite(t_body)
    return (subject & ~(t_obj < t_body)).reshape(camera.height, camera.width), \
        subject.reshape(camera.height, camera.width)


def test_masks_equal_brute_force(tmp_path):
    """The culled masks (capsules over their projected reach, occluders over their bounding
    balls' reach) equal casting every pixel against every primitive."""
    cfg = load_config(write_tiny(tmp_path, frames=12, res=96, levels=[0.0]))
    joints = motion_world(cfg, "S1", "walk")
    cam = cfg.camera_objects(rendered=True)[0]
    occ = handmade_occluders(joints, cam.position).in_camera_frame(cam)
    body = cfg.body_model("S1")
    from occpose.camera import world_to_camera

    joints_cam = world_to_camera(joints, cam)
    hidden = 0
    for t in range(0, 12, 3):
        got = masks.subject_masks(joints_cam[t], body, cam, occ.select_frames(t))
        want = _masks_by_brute_force(joints_cam[t], body, cam, occ.select_frames(t))
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
        hidden += int((want[1] & ~want[0]).sum())
    assert hidden > 0  # occluders do hide some of the subject


def test_batch_caster_rereads_meshes_with_modifiers(tmp_path):
    """Blockers whose evaluated mesh may change any frame (a modifier here; an armature for a
    rigged character) take the re-read path and still give the reference's labels."""
    cfg, inputs, scene = built(tmp_path, frames=8)
    for obj in bridge.collection(scene, bridge.OCCLUDERS).objects:
        obj.modifiers.new("tri", "TRIANGULATE")
    params = sequence.visibility_params(cfg)
    blockers = bridge.blockers(scene)
    origin = np.asarray(inputs.camera.position, np.float64)
    fast = labels.BatchRayCaster(scene, blockers, inputs.body.incidence, params, origin)
    assert any(b.keys is None for b in fast.objects) and any(b.keys is not None for b in fast.objects)
    ref = labels.RayCaster(scene, blockers, inputs.body.incidence, params, origin)
    a = labels.label_scene(scene, ref, inputs.joints_cam, inputs.body, inputs.camera)
    b = labels.label_scene(scene, fast, inputs.joints_cam, inputs.body, inputs.camera)
    assert a.occluded_by_object.any()
    np.testing.assert_array_equal(b.visibility, a.visibility)
    np.testing.assert_array_equal(b.occluded_by_object, a.occluded_by_object)


def _per_frame_counts(scene, caster, targets, frames):
    """The per-frame path the pipeline took before the clip path: frame_set, then frame_counts."""
    rows = []
    for f in frames:
        scene.frame_set(f)
        rows.append(caster.frame_counts(targets[f]))
    scene.frame_set(0)
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows])


def _clip_path_equals_per_frame(scene, cfg, inputs, n_frames):
    """Assert that a caster reading the animation labels frames 0..n_frames-1 with the per-frame
    path's counts; returns those counts."""
    params = sequence.visibility_params(cfg)
    targets = labels.targets_world(inputs.joints_cam, inputs.body.joint_radius, inputs.camera, params)
    new = sequence.ray_caster(scene, inputs, params)
    assert new.reads_animation()
    b = new.clip_counts(targets)
    a = _per_frame_counts(scene, sequence.ray_caster(scene, inputs, params), targets, range(n_frames))
    np.testing.assert_array_equal(b[0], a[0])
    np.testing.assert_array_equal(b[1], a[1])
    return a


def test_clip_path_equals_per_frame_path(tmp_path):
    """BatchRayCaster.clip_counts (transforms and shape keys read from the animation data, no
    frame_set, numpy bundle/box culling, two rounds of casts) gives the per-frame path's counts
    exactly: moving and turning occluders of every shape, joints hidden by the body, joints out
    of frame (a zoomed camera), over two levels that share the body (reuse)."""
    import dataclasses

    cfg, inputs, scene = built(tmp_path, frames=30)
    zoomed = dataclasses.replace(inputs.camera, fx=inputs.camera.fx * 2.5, fy=inputs.camera.fy * 2.5)
    inputs = dataclasses.replace(inputs, camera=zoomed)
    params = sequence.visibility_params(cfg)
    targets = labels.targets_world(inputs.joints_cam, inputs.body.joint_radius, inputs.camera, params)
    out = out_of_frame_mask(inputs.joints_cam, inputs.camera)
    assert out.any() and (~out).any()
    frames = list(range(inputs.n_frames))
    old = sequence.ray_caster(scene, inputs, params)
    new = sequence.ray_caster(scene, inputs, params)
    assert new.reads_animation()
    assert any(b.keys[1] for b in new.objects)  # stretching body capsules (shape keys)
    a = _per_frame_counts(scene, old, targets, frames)
    b = new.clip_counts(targets, frames)
    np.testing.assert_array_equal(b[0], a[0])
    np.testing.assert_array_equal(b[1], a[1])
    lab = labels_from_counts(*b, params.rays, out)
    assert lab.occluded_by_body.any() and lab.occluded_by_object.any()
    assert (b[0][out] > 0).any()  # rays to out-of-frame joints are cast too
    # another level: other occluders, the body trees and transforms reused
    occ = handmade_occluders(inputs.joints_world, zoomed.position, seed=3)
    pose = occ.pose.copy()
    pose[:, :, :3, 3] += [0.12, -0.1, 0.05]  # moved: other occluders than the first level's
    other = dataclasses.replace(inputs, occluders=occ._replace(pose=pose))
    sequence.swap_occluders(scene, cfg, other)
    old2 = sequence.ray_caster(scene, other, params, reuse=old)
    new2 = sequence.ray_caster(scene, other, params, reuse=new)
    assert any(x is y for x in new2.objects for y in new.objects)
    a2 = _per_frame_counts(scene, old2, targets, frames)
    assert (a2[1] != a[1]).any()  # the occluders did change
    b2 = new2.clip_counts(targets, frames[5:] + frames[:5])
    np.testing.assert_array_equal(np.roll(b2[0], 5, axis=0), a2[0])
    np.testing.assert_array_equal(np.roll(b2[1], 5, axis=0), a2[1])


def test_clip_path_falls_back_to_frame_set(tmp_path):
    """A blocker the animation data cannot describe alone (a parent here) makes clip_counts set
    every frame and cast per frame: same counts, and the scene's frame is restored."""
    cfg, inputs, scene = built(tmp_path, frames=6)
    occ = bridge.collection(scene, bridge.OCCLUDERS).objects
    empty = bpy.data.objects.new("occpose_test_parent", None)
    bridge.collection(scene, bridge.SCENERY).objects.link(empty)
    occ[0].parent = empty
    scene.frame_set(0)
    params = sequence.visibility_params(cfg)
    targets = labels.targets_world(inputs.joints_cam, inputs.body.joint_radius, inputs.camera, params)
    new = sequence.ray_caster(scene, inputs, params)
    assert not new.reads_animation()
    scene.frame_set(3)
    b = new.clip_counts(targets)
    assert scene.frame_current == 3
    a = _per_frame_counts(scene, sequence.ray_caster(scene, inputs, params), targets, range(6))
    np.testing.assert_array_equal(b[0], a[0])
    np.testing.assert_array_equal(b[1], a[1])


def test_motion_check_refuses_a_different_matrix(tmp_path):
    """The clip path trusts its reading of an object only if it is Blender's evaluation bit for
    bit at the current frame: an original changed without re-evaluation is refused."""
    cfg, inputs, scene = built(tmp_path, frames=4)
    params = sequence.visibility_params(cfg)
    obj = bridge.collection(scene, bridge.OCCLUDERS).objects[0]
    obj.animation_data_clear()
    obj.location.x += 0.5  # the depsgraph still has the old matrix
    caster = sequence.ray_caster(scene, inputs, params)
    assert not caster.reads_animation()
    compat.view_layer_depsgraph(scene).update()
    assert sequence.ray_caster(scene, inputs, params).reads_animation()


def test_rotation_matrices_match_mathutils():
    from mathutils import Euler, Quaternion

    rng = np.random.default_rng(4)
    quats = rng.normal(size=(5, 4))
    got = labels.rotation_matrices("QUATERNION", quats)
    for q, m in zip(quats, got):
        np.testing.assert_allclose(m, np.array(Quaternion(q).normalized().to_matrix()), atol=1e-6)
    angles = rng.uniform(-3, 3, (5, 3))
    for order in labels.EULER_ORDERS:
        got = labels.rotation_matrices(order, angles)
        for a, m in zip(angles, got):
            np.testing.assert_allclose(m, np.array(Euler(a, order).to_matrix()), atol=1e-6)


def test_clip_path_reads_euler_and_scale_keys(tmp_path):
    """An occluder keyed in an Euler order with a non-unit scale (as a user's object may be) is
    read from its F-curves bit for bit, and the counts stay the per-frame path's."""
    cfg, inputs, scene = built(tmp_path, frames=8)
    obj = bridge.collection(scene, bridge.OCCLUDERS).objects[0]
    obj.animation_data_clear()
    obj.rotation_mode = "ZXY"
    for f in range(8):
        obj.rotation_euler = (0.1 * f, 0.3 - 0.05 * f, 1.0 + 0.2 * f)
        obj.scale = (1.0 + 0.05 * f, 0.8, 1.2)
        obj.keyframe_insert("rotation_euler", frame=f)
        obj.keyframe_insert("scale", frame=f)
    scene.frame_set(0)
    a = _clip_path_equals_per_frame(scene, cfg, inputs, 8)
    assert a[1].any()


def test_clip_path_frames_beyond_the_scene_range(tmp_path):
    """Frames outside the scene's frame range (stretch values the range's bound does not hold)
    still cull with a bound that holds every labelled frame's mesh: same counts as per frame."""
    cfg, inputs, scene = built(tmp_path, frames=12)
    scene.frame_start, scene.frame_end = 5, 6  # the bounds from this range miss frames 0-4, 7-11
    scene.frame_set(5)
    _clip_path_equals_per_frame(scene, cfg, inputs, 12)


def _triangles(faces) -> np.ndarray:
    return np.array([(f[0], f[i], f[i + 1]) for f in faces for i in range(1, len(f) - 1)], np.int64)


def _stretch_mesh(radius=0.07):
    """The body's capsule mesh (bridge.build_body): a sphere whose upper half a key moves 1 m."""
    from blender_addon import meshes

    mesh = meshes.capsule(radius, 0.0)
    ref = mesh.vertices.astype(np.float32)
    key = ref.copy()
    key[mesh.tail, 2] += np.float32(1.0)
    return ref, key, _triangles(mesh.faces)


def test_solid_of_certifies_closed_convex_meshes_only():
    """solid_of gives inner shapes for closed convex meshes (boxes, spheres, cylinders,
    capsules, the stretching body capsule, either winding) and None otherwise: an open mesh, a
    dented one, a stretch key that dents it or moves vertices other ways."""
    from blender_addon import meshes

    ref, key, tris = _stretch_mesh()
    basis = ref.astype(np.float64)
    offset = key.astype(np.float64) - basis
    for verts, faces in ((meshes.box([0.3, 0.2, 0.1]).vertices, meshes.box([0.3, 0.2, 0.1]).faces),
                         (meshes.cylinder(0.2, 0.9).vertices, meshes.cylinder(0.2, 0.9).faces),
                         (meshes.capsule(0.1, 0.4).vertices, meshes.capsule(0.1, 0.4).faces)):
        t = _triangles(faces)
        for wound in (t, t[:, ::-1]):
            solid = raygeom.solid_of(verts, wound)
            assert solid is not None and (solid.box is not None or solid.rho > 0)
        assert raygeom.solid_of(verts, t[1:]) is None  # open
    box = meshes.box([0.3, 0.2, 0.1])
    assert raygeom.solid_of(box.vertices, _triangles(box.faces)).box is not None
    dented = box.vertices.copy()
    dented[0] *= 0.5  # a corner pushed in: not convex
    assert raygeom.solid_of(dented, _triangles(box.faces)) is None
    stretch = raygeom.solid_of(basis, tris, offset)
    assert stretch is not None and stretch.t is not None and 0.069 < stretch.rho < 0.07
    squash = offset.copy()
    squash[squash[:, 2] > 0, 2] = -1.0  # the upper half moved down through the lower one
    assert raygeom.solid_of(basis, tris, squash) is None
    skew = offset.copy()
    skew[np.flatnonzero(skew[:, 2] > 0)[:3], 0] = 0.5  # not one common vector
    assert raygeom.solid_of(basis, tris, skew) is None


def test_certified_hits_bound_the_tree_hits():
    """For the stretching body capsule at several key values: a segment from outside the
    outer capsule to a point of the inner capsule hits the mesh's tree (as the clip path builds
    it, float32 blending) no later than that point, and a ray passing outside the outer capsule
    misses it."""
    from mathutils.bvhtree import BVHTree

    ref, key, tris = _stretch_mesh()
    solid = raygeom.solid_of(ref.astype(np.float64), tris, key.astype(np.float64) - ref)
    rng = np.random.default_rng(5)
    for w in (0.05, 0.3, 0.9):
        co = ref - np.float32(w) * (ref - key)
        tree = BVHTree.FromPolygons(co.tolist(), tris.tolist(), all_triangles=True)
        a0, a1 = solid.a0, solid.a0 + w * solid.t
        misses = 0
        for _ in range(300):
            along = rng.uniform(0, 1)
            off = rng.normal(size=3)
            off -= (off @ solid.t) * solid.t / (solid.t @ solid.t)
            off *= rng.uniform(0, solid.rho) / np.linalg.norm(off)
            inside = a0 + along * (a1 - a0) + off
            origin = inside + rng.normal(size=3) * 3.0
            gap = raygeom.ray_axis((origin - a0)[None], np.zeros((1, 3)), (a1 - a0)[None],
                                   np.array([(a1 - a0) @ (a1 - a0)]), np.zeros(1))[1][0]
            if gap <= solid.radius ** 2:
                continue  # the camera centre must be out of the mesh
            d = inside - origin
            dist = np.linalg.norm(d)
            hit = tree.ray_cast(origin.tolist(), (d / dist).tolist(), dist + 1.0)
            assert hit[3] is not None and hit[3] <= dist + 1e-6
            # a ray from there passing beside the outer capsule misses
            side = np.cross(d, solid.t)
            beside = a0 + along * (a1 - a0) + side / np.linalg.norm(side) * (solid.radius + 1e-3)
            u = (beside - origin) / np.linalg.norm(beside - origin)
            gap = raygeom.ray_axis((origin - a0)[None], u[None], (a1 - a0)[None],
                                   np.array([(a1 - a0) @ (a1 - a0)]), np.array([1e3]))[1][0]
            if gap > solid.radius ** 2:
                assert tree.ray_cast(origin.tolist(), u.tolist(), 1e3)[3] is None
                misses += 1
        assert misses > 100
