"""The one bridge between occpose arrays and Blender data: build objects, animate them, read back.

Objects live in four collections of a scene, ``<scene> Body``, ``Occluders``, ``Scenery`` and
``Markers``, and nothing else of the scene is touched: the headless pipeline uses its own scene
``OccPose`` (:func:`ensure_scene`), the add-on's interactive operators the current scene.
Frame t of a sequence is Blender frame t (frame_start = 0). Objects carry ``occpose_role`` ("body", "occluder",
"marker", "scenery") and ``occpose_index`` (segment or primitive index) custom properties;
:func:`blockers` turns them into the table the ray caster uses.

Body capsules stretch with the segment: each mesh is a sphere whose upper hemisphere a shape
key ``stretch`` moves 1 m along local +z, keyed to the segment length per frame, so the caps stay
round while flank and pelvis capsules change length with the pose.
"""

from __future__ import annotations

import bpy
import numpy as np

from occpose.body import BodyModel
from occpose.camera import Camera
from occpose.occlusion.occluders.geometry import SHAPE_NAMES, OccluderSet
from occpose.viz.frames import OCCLUDED_BODY, OCCLUDED_OBJECT, OUT_OF_FRAME, VISIBLE

from . import compat, meshes, transforms

SCENE = "OccPose"
BODY, OCCLUDERS, SCENERY, MARKERS = "Body", "Placed Occluders", "Scenery", "Markers"
ROLE, INDEX = "occpose_role", "occpose_index"


# ---- scene and collections ---------------------------------------------------------------------

def ensure_scene(name: str = SCENE):
    """The add-on's scene (created empty if missing)."""
    scene = bpy.data.scenes.get(name)
    if scene is None:
        scene = bpy.data.scenes.new(name)
    return scene


def collection(scene, name: str):
    """Child collection ``<scene> <name>`` of the scene's master collection (created if missing)."""
    full = f"{scene.name} {name}"
    coll = bpy.data.collections.get(full)
    if coll is None:
        coll = bpy.data.collections.new(full)
    if coll.name not in scene.collection.children:
        scene.collection.children.link(coll)
    return coll


def clear(scene, names=(BODY, OCCLUDERS, SCENERY, MARKERS)) -> None:
    """Delete the objects of the given collections with their meshes, keys, actions, materials."""
    for name in names:
        coll = bpy.data.collections.get(f"{scene.name} {name}")
        if coll is not None:
            for obj in list(coll.objects):
                remove_object(obj)
    for blocks in (bpy.data.materials, bpy.data.actions, bpy.data.textures):
        for block in list(blocks):
            if block.users == 0 and block.name.startswith("occpose"):
                blocks.remove(block)


def remove_object(obj) -> None:
    """Delete an object, its data if unused elsewhere, and its (and its shape keys') actions."""
    data = obj.data
    keys = getattr(data, "shape_keys", None)
    actions = [a.action for a in (obj.animation_data, keys and keys.animation_data) if a and a.action]
    bpy.data.objects.remove(obj)
    if data is not None and data.users == 0:
        for blocks in (bpy.data.meshes, bpy.data.lights, bpy.data.cameras):
            if blocks.get(data.name) == data:
                blocks.remove(data)
                break
    for action in actions:
        if action.users == 0:
            bpy.data.actions.remove(action)


def set_frames(scene, n_frames: int) -> None:
    scene.frame_start, scene.frame_end = 0, n_frames - 1
    scene.frame_set(0)


# ---- meshes and animation -----------------------------------------------------------------------

def mesh_object(name: str, mesh: meshes.MeshArrays, coll, role: str, index: int = -1):
    """A new object with a mesh built from arrays, linked into ``coll``."""
    data = bpy.data.meshes.new(name)
    data.from_pydata(mesh.vertices.tolist(), [], mesh.faces)
    data.validate()
    data.update()
    for poly in data.polygons:
        poly.use_smooth = True
    obj = bpy.data.objects.new(name, data)
    obj[ROLE], obj[INDEX] = role, index
    coll.objects.link(obj)
    return obj


def keyframes(id_data, data_path: str, values: np.ndarray, interpolation: str = "LINEAR") -> None:
    """Key ``values`` (T,) or (T, k) at frames 0..T-1 on ``id_data.<data_path>``."""
    values = np.asarray(values, np.float64)
    values = values[:, None] if values.ndim == 1 else values
    frames = np.arange(len(values), dtype=np.float64)
    for i in range(values.shape[1]):
        fc = compat.new_fcurve(id_data, data_path, i)
        points = fc.keyframe_points
        points.add(len(frames))
        points.foreach_set("co", np.stack([frames, values[:, i]], axis=-1).ravel())
        points.foreach_set("interpolation", np.full(len(frames), compat.INTERPOLATION[interpolation]))
        fc.update()


def animate(obj, location: np.ndarray, quaternion: np.ndarray) -> None:
    """Rigid motion per frame: location (T, 3), quaternion (T, 4); constant motion is not keyed."""
    obj.rotation_mode = "QUATERNION"
    obj.location = location[0]
    obj.rotation_quaternion = quaternion[0]
    if np.ptp(location, axis=0).max() > 0 or np.ptp(quaternion, axis=0).max() > 0:
        keyframes(obj, "location", location)
        keyframes(obj, "rotation_quaternion", quaternion)


def build_body(scene, body: BodyModel, joints_world: np.ndarray, segments: int = meshes.SEGMENTS):
    """Capsule objects of the cylinder-man, animated over the clip.

    Args:
        joints_world: (T, J, 3) world metres (Z up).
    Returns:
        the S objects, in ``body.segments`` order.
    """
    coll = collection(scene, BODY)
    a, b, _ = body.capsules(np.asarray(joints_world, np.float64))  # (T, S, 3) each
    objs = []
    for s, seg in enumerate(body.segments):
        mesh = meshes.capsule(seg.radius, 0.0, segments)
        obj = mesh_object(f"occpose_{seg.name}", mesh, coll, "body", s)
        obj.shape_key_add(name="Basis")
        key = obj.shape_key_add(name="stretch", from_mix=False)
        key.slider_max = 10.0
        moved = mesh.vertices.copy()
        moved[mesh.tail, 2] += 1.0
        key.data.foreach_set("co", moved.astype(np.float32).ravel())
        anim = transforms.segment_animation(a[:, s], b[:, s])
        animate(obj, anim.location, anim.quaternion)
        key.value = anim.length[0]
        keyframes(obj.data.shape_keys, 'key_blocks["stretch"].value', anim.length)
        objs.append(obj)
    return objs


def build_occluders(scene, occ: OccluderSet, segments: int = meshes.SEGMENTS):
    """One object per occluder primitive, posed per frame from ``occ.pose`` (world frame)."""
    coll = collection(scene, OCCLUDERS)
    objs = []
    for i in range(occ.num_primitives):
        name = f"occpose_occluder_{i:02d}_{SHAPE_NAMES[int(occ.shape[i])]}"
        obj = mesh_object(name, meshes.occluder_mesh(occ, i, segments), coll, "occluder", i)
        obj["occpose_group"] = int(occ.group[i])
        obj.color = (*occ.color[i].tolist(), 1.0)
        location, quaternion = transforms.pose_animation(occ.pose[:, i])
        animate(obj, location, quaternion)
        objs.append(obj)
    return objs


def setup_camera(scene, camera: Camera):
    """The scene camera reproducing ``camera`` (pinhole part) at its image size."""
    coll = collection(scene, SCENERY)
    bc = transforms.blender_camera(camera)
    obj = bpy.data.objects.new(f"occpose_camera_{camera.name}", bpy.data.cameras.new(f"occpose_{camera.name}"))
    obj[ROLE] = "scenery"
    coll.objects.link(obj)
    obj.matrix_world = bc.matrix_world.T.tolist()  # mathutils takes rows
    cam = obj.data
    cam.sensor_fit = "HORIZONTAL"
    cam.sensor_width = bc.sensor_width
    cam.lens = bc.lens
    cam.shift_x, cam.shift_y = bc.shift_x, bc.shift_y
    cam.clip_start, cam.clip_end = 0.01, 200.0
    render = scene.render
    render.resolution_x, render.resolution_y = bc.resolution
    render.resolution_percentage = 100
    render.pixel_aspect_x, render.pixel_aspect_y = bc.pixel_aspect
    scene.camera = obj
    return obj


# ---- reading back -------------------------------------------------------------------------------

def matrix(scene, obj) -> np.ndarray:
    """(4, 4) float64 world matrix of an object at the scene's current frame (evaluated: the
    originals of a scene that is not the window's are not updated)."""
    evaluated = obj.evaluated_get(compat.view_layer_depsgraph(scene))
    return np.array(evaluated.matrix_world, dtype=np.float64)


def camera_from_scene(scene) -> Camera:
    """The occpose camera that the scene's active camera renders (no distortion)."""
    obj = scene.camera
    compat.view_layer_depsgraph(scene).update()
    render = scene.render
    res = (render.resolution_x * render.resolution_percentage // 100,
           render.resolution_y * render.resolution_percentage // 100)
    return transforms.camera_from_blender(obj.name, matrix(scene, obj), obj.data.lens, obj.data.sensor_width,
                                          obj.data.shift_x, obj.data.shift_y, res,
                                          (render.pixel_aspect_x, render.pixel_aspect_y))


def blockers(scene) -> dict[str, tuple[bool, int]]:
    """Object name -> (is_occluder, segment or primitive index) for every ray-cast blocker."""
    table = {}
    for name in (BODY, OCCLUDERS):
        coll = bpy.data.collections.get(f"{scene.name} {name}")
        for obj in coll.objects if coll else ():
            table[obj.name] = (obj[ROLE] == "occluder", int(obj[INDEX]))
    return table


# ---- joint markers (viewport only) ---------------------------------------------------------------

STATE_COLORS = {  # joint state code (occpose.viz.frames, via labels.joint_states) -> RGBA
    VISIBLE: (0.1, 0.85, 0.2, 1.0),  # green
    OCCLUDED_BODY: (1.0, 0.55, 0.0, 1.0),  # orange
    OCCLUDED_OBJECT: (0.95, 0.05, 0.05, 1.0),  # red
    OUT_OF_FRAME: (0.5, 0.5, 0.5, 1.0),  # grey
}


def joint_markers(scene, joints_world: np.ndarray, states: np.ndarray, names, radius: float = 0.03):
    """Small spheres following the joints, object colour keyed per frame by state (T, J) int.

    Colours show in the Solid viewport with the shading colour type *Object*; markers never render.
    """
    clear(scene, (MARKERS,))
    coll = collection(scene, MARKERS)
    sphere = meshes.sphere(radius, 12, 3)
    palette = np.array([STATE_COLORS[k] for k in sorted(STATE_COLORS)])
    objs = []
    for j, name in enumerate(names):
        obj = mesh_object(f"occpose_joint_{j:02d}_{name}", sphere, coll, "marker", j)
        obj.hide_render = True
        obj.show_in_front = True
        loc = np.asarray(joints_world[:, j], np.float64)
        animate(obj, loc, np.tile([1.0, 0.0, 0.0, 0.0], (len(loc), 1)))
        colors = palette[np.asarray(states[:, j], np.int64)]
        obj.color = colors[0].tolist()
        keyframes(obj, "color", colors, interpolation="CONSTANT")
        objs.append(obj)
    for screen in bpy.data.screens:  # show object colours in open 3D views
        for area in screen.areas:
            if area.type == "VIEW_3D":
                area.spaces.active.shading.color_type = "OBJECT"
    return objs
