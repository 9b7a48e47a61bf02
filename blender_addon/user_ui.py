"""The add-on's "Your Scene" panel: your occluder collection, your character, Label Character.

Settings live on ``scene.occpose_user`` (kept apart from ``scene.occpose``):

* ``occluders``: the collection whose objects occlude in Label Visibility, Render Benchmark and
  Label Character (default "OccPose Occluders"; a missing collection of that name means none);
* ``armature``, ``rig`` (auto / rigify / mixamo) and ``mapping`` (a TOML mapping file, see
  :mod:`.rig_mappings`): the character Label Character labels.

Place Occluders on Character (``bpy.ops.occpose.place_character_occluders()``) places occpose's
occluders around the character for the main panel's occlusion level and seed, measured by the
mesh-body ray casts with your occluders included; Label Character then counts them too.

Label Character (``bpy.ops.occpose.label_character()``) labels the character over the scene's
frame range as the scene camera sees it (mesh-body definition,
:mod:`occpose.occlusion.raycast.mesh_body`), keys coloured joint markers per frame (green
visible, orange hidden by the body, red hidden by an object, grey out of frame) and reports the
shares.
"""

from __future__ import annotations

import bpy
import numpy as np
from bpy.props import EnumProperty, PointerProperty, StringProperty

from occpose.errors import OccposeError
from occpose.skeleton import H36M_17
from occpose.viz.frames import joint_states

from . import bridge, character, compat, meshes, user_scene

RIGS = (("auto", "Auto", "Rigify or Mixamo bone names, whichever maps more joints"),
        ("rigify", "Rigify", "Rigify metarig or generated rig (DEF-/ORG- bones)"),
        ("mixamo", "Mixamo", "Mixamo bone names (mixamorig:Hips, ...)"))
MARKERS = "Character Markers"


def _collections(self, context, edit_text):
    return [c.name for c in bpy.data.collections if edit_text.lower() in c.name.lower()]


def _is_armature(self, obj) -> bool:
    return obj.type == "ARMATURE"


class OCCPOSE_PG_user(bpy.types.PropertyGroup):
    occluders: StringProperty(name="Occluders", default=user_scene.DEFAULT_COLLECTION,
                              search=_collections,
                              description="Collection whose objects occlude (evaluated meshes, animated or not)")
    armature: PointerProperty(name="Character", type=bpy.types.Object, poll=_is_armature,
                              description="Armature of your character (its skinned meshes are found)")
    rig: EnumProperty(name="Rig", items=RIGS, default="auto", description="Bone naming of the rig")
    mapping: StringProperty(name="Mapping", subtype="FILE_PATH", default="",
                            description="Bone-to-joint mapping file (TOML); overrides Rig")


def character_markers(scene, joints_world: np.ndarray, states: np.ndarray, frames) -> list:
    """Joint marker spheres keyed at the Blender ``frames`` (location and state colour)."""
    bridge.clear(scene, (MARKERS,))
    coll = bridge.collection(scene, MARKERS)
    sphere = meshes.sphere(0.03, 12, 3)
    objs = []
    for j, name in enumerate(H36M_17.joint_names):
        obj = bridge.mesh_object(f"occpose_character_{j:02d}_{name}", sphere, coll, "marker", j)
        obj.hide_render = True
        obj.show_in_front = True
        for i, frame in enumerate(frames):
            obj.location = joints_world[i, j].tolist()
            obj.color = bridge.STATE_COLORS[int(states[i, j])]
            obj.keyframe_insert("location", frame=int(frame))
            obj.keyframe_insert("color", frame=int(frame))
        for fc in _fcurves(obj):
            if fc.data_path == "color":
                for point in fc.keyframe_points:
                    point.interpolation = "CONSTANT"
        objs.append(obj)
    return objs


def _fcurves(obj):
    action = obj.animation_data.action if obj.animation_data else None
    if action is None:
        return []
    try:
        return list(action.fcurves)
    except AttributeError:  # Blender 5.0: slotted actions only
        return [fc for layer in action.layers for strip in layer.strips
                for bag in strip.channelbags for fc in bag.fcurves]


class _OneLineReport:
    """execute() runs ``self.run(context)`` and reports its message, or an occpose error, in one line."""

    def execute(self, context):
        try:
            message = self.run(context)
        except OccposeError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        self.report({"INFO"}, message)
        return {"FINISHED"}


class OCCPOSE_OT_label_character(_OneLineReport, bpy.types.Operator):
    """Label your character's 17 joints over the frame range by ray casts on its evaluated mesh and your occluders"""

    bl_idname = "occpose.label_character"
    bl_label = "Label Character"
    bl_options = {"REGISTER"}

    def run(self, context) -> str:
        from occpose.generate import visibility_params

        scene, u = context.scene, context.scene.occpose_user
        char, frames, occ, camera, cfg = character_inputs(scene, u, with_placed=True)
        params = visibility_params(cfg)
        result = character.label_character(scene, char, camera, frames, occ, params)
        states = joint_states(result.labels.to_arrays())
        character_markers(scene, result.clip.joints_world, states, frames)
        share = np.bincount(states.ravel(), minlength=4) / states.size * 100
        return (f"{char.armature.name} ({char.mapping_name} mapping), {len(frames)} frames: joints visible "
                f"{share[0]:.1f} %, hidden by body {share[1]:.1f} %, by objects {share[2]:.1f} %, "
                f"out of frame {share[3]:.1f} %")


def character_inputs(scene, u, with_placed: bool):
    """(character, frames, occluders (world, the placed ones first, or None), camera, preset)
    of the panel's settings."""
    from occpose.errors import ConfigError

    from .operators import settings_config

    if u.armature is None:
        raise ConfigError("pick your character's armature first")
    if scene.camera is None:
        raise ConfigError("the scene has no camera; add one and make it active")
    mapping = bpy.path.abspath(u.mapping) if u.mapping else None
    char = character.find_character(u.armature.name, mapping_file=mapping, rig=u.rig)
    frames = range(scene.frame_start, scene.frame_end + 1)
    required = u.occluders != user_scene.DEFAULT_COLLECTION
    coll = user_scene.find_collection(scene, u.occluders, required=required)
    if coll is not None and not required and not user_scene.in_scene(scene, coll):
        coll = None  # the default name: only a collection of this scene
    sets = [user_scene.read_occluders(scene, coll, len(frames), scene.frame_start)] if coll else []
    placed = bpy.data.collections.get(f"{scene.name} {bridge.OCCLUDERS}")
    if with_placed and placed is not None and len(placed.objects):
        sets.insert(0, user_scene.read_occluders(scene, placed, len(frames), scene.frame_start))
    occ = None
    for part in sets:
        occ = part if occ is None else occ.concat(part)
    compat.view_layer_depsgraph(scene).update()
    return char, frames, occ, bridge.camera_from_scene(scene), settings_config(scene.occpose)


class OCCPOSE_OT_place_character_occluders(_OneLineReport, bpy.types.Operator):
    """Place occpose's occluders around your character for the panel's occlusion level (measured by the mesh ray casts, your occluders included)"""

    bl_idname = "occpose.place_character_occluders"
    bl_label = "Place Occluders on Character"
    bl_options = {"REGISTER"}

    def run(self, context) -> str:
        from occpose.generate import SequenceKey, visibility_params

        from . import character_bench

        scene, u = context.scene, context.scene.occpose_user
        bridge.clear(scene, (bridge.OCCLUDERS,))
        char, frames, occ, camera, cfg = character_inputs(scene, u, with_placed=False)
        params = visibility_params(cfg)
        clip = character.read_clip(scene, char, frames)
        body = clip.mesh_body(params)
        level = round(float(scene.occpose.level), 4)
        key = SequenceKey(character_bench.safe_name(char.armature.name), "scene", camera.name, level)
        user_cam = occ.in_camera_frame(camera) if occ is not None else None
        placed = character_bench.place_character_occluders(scene, cfg, key, clip, body, camera, user_cam,
                                                           params, frames.start)
        return (f"Placed {placed.occluders.num_primitives} occluder primitives around {char.armature.name}: "
                f"level {placed.labels.occluder_fraction.mean():.3f} (target {level:.2f})")


class OCCPOSE_PT_user(bpy.types.Panel):
    bl_label = "Your Scene"
    bl_idname = "OCCPOSE_PT_user"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "OccPose"
    bl_parent_id = "OCCPOSE_PT_main"

    def draw(self, context):
        u = context.scene.occpose_user
        layout = self.layout
        layout.use_property_split = True
        layout.prop(u, "occluders")
        col = layout.column(align=True)
        col.prop(u, "armature")
        col.prop(u, "rig")
        col.prop(u, "mapping")
        layout.operator("occpose.place_character_occluders", icon="MESH_CUBE")
        layout.operator("occpose.label_character", icon="OUTLINER_OB_ARMATURE")


CLASSES = (OCCPOSE_PG_user, OCCPOSE_OT_label_character, OCCPOSE_OT_place_character_occluders,
           OCCPOSE_PT_user)


def attach() -> None:
    bpy.types.Scene.occpose_user = PointerProperty(type=OCCPOSE_PG_user)


def detach() -> None:
    del bpy.types.Scene.occpose_user
