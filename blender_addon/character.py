"""The user's rigged character: the 17 joints from its bones, its skinned mesh as a mesh body.

A character is an armature object and the mesh objects it deforms (an Armature modifier on
the armature, or parented to it). Per frame this module reads, with ``foreach_get``:

* the 17 Human3.6M joints: bone heads/tails of the evaluated pose, world metres, through a
  bone mapping (:mod:`.rig_mappings`: Rigify, Mixamo or a mapping file);
* the evaluated (deformed, modified) vertices of its meshes in world metres.

Once (first frame) it reads the vertex weights and bone ends, from which
:func:`occpose.occlusion.raycast.mesh_body.make_mesh_body` estimates the parts, own parts,
joint radii and tolerances. The labels are then computed by the mesh-body definition
(:mod:`occpose.occlusion.raycast.mesh_body`, numpy) against the mesh and the user's occluders.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from occpose.camera import Camera, world_to_camera
from occpose.errors import ConfigError
from occpose.occlusion.occluders.geometry import OccluderSet
from occpose.occlusion.raycast import mesh_body
from occpose.occlusion.raycast.visibility import VisibilityLabels, VisibilityParams
from occpose.skeleton import H36M_17

from . import compat, rig_mappings, user_scene


@dataclass(eq=False)
class Character:
    """An armature, its skinned meshes and the resolved joint mapping."""

    armature: object
    meshes: list
    mapping_name: str
    mapping: dict  # joint name -> [(bone, "head"|"tail"), ...]


@dataclass(eq=False)
class CharacterClip:
    """A character read over frames.

    Attributes:
        frames: (T,) the Blender frames read.
        joints_world: (T, 17, 3) float64 world metres.
        vertices_world: (T, V, 3) float64 world metres, all meshes concatenated.
        faces: (F, 3) int64; weights: (V, P) per part (bone) weights; part_names: (P,).
        heads, tails: (P, 3) world bone ends at the first frame.
        parents: (P,) index of each part's nearest deforming ancestor bone, -1 for none.
    """

    frames: np.ndarray
    joints_world: np.ndarray
    vertices_world: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    part_names: tuple[str, ...]
    heads: np.ndarray
    tails: np.ndarray
    parents: np.ndarray  # (P,) nearest deforming ancestor part, -1 for none

    def mesh_body(self, params: VisibilityParams) -> mesh_body.MeshBody:
        """The :class:`~occpose.occlusion.raycast.mesh_body.MeshBody` of the character, estimated
        at the first frame."""
        parts = mesh_body.face_parts(self.faces, self.weights)
        own = mesh_body.own_parts(self.joints_world[0], self.heads, self.tails, self.parents)
        return mesh_body.make_mesh_body(self.vertices_world[0], self.faces, parts, own, self.heads,
                                        self.tails, params, self.part_names)


def skinned_meshes(armature) -> list:
    """Mesh objects deformed by ``armature`` (Armature modifier or armature parent), by name."""
    out = []
    for obj in bpy.data.objects:
        if obj.type != "MESH":
            continue
        by_modifier = any(m.type == "ARMATURE" and m.object == armature for m in obj.modifiers)
        if by_modifier or (obj.parent == armature and obj.parent_type == "ARMATURE"):
            out.append(obj)
    return sorted(out, key=lambda o: o.name)


def find_character(armature_name: str, mesh_names=(), mapping_file: str | None = None,
                   rig: str = "auto") -> Character:
    """The character of armature ``armature_name``; its meshes are ``mesh_names`` or all the
    meshes it deforms. Raises ConfigError naming what is missing (unmapped joints by name)."""
    arm = bpy.data.objects.get(armature_name) if armature_name else None
    if arm is None or arm.type != "ARMATURE":
        raise ConfigError(f"character {armature_name!r}: no armature object of that name")
    if mesh_names:
        meshes = []
        for name in mesh_names:
            obj = bpy.data.objects.get(name)
            if obj is None or obj.type != "MESH":
                raise ConfigError(f"character mesh {name!r}: no mesh object of that name")
            meshes.append(obj)
    else:
        meshes = skinned_meshes(arm)
    if not meshes:
        raise ConfigError(f"character {arm.name!r}: no mesh is deformed by it (add an Armature "
                          "modifier or name the meshes)")
    name, mapping = rig_mappings.choose_mapping([b.name for b in arm.data.bones], mapping_file, rig)
    return Character(arm, meshes, name, mapping)


def joints_of(arm_eval, mapping: dict) -> np.ndarray:
    """(17, 3) float64 world joints of an evaluated armature object."""
    world = np.array(arm_eval.matrix_world, np.float64)
    out = np.zeros((H36M_17.num_joints, 3))
    for j, joint in enumerate(H36M_17.joint_names):
        points = []
        for bone, end in mapping[joint]:
            pb = arm_eval.pose.bones[bone]
            points.append(np.array(pb.head if end == "head" else pb.tail, np.float64))
        local = np.mean(points, axis=0)
        out[j] = world[:3, :3] @ local + world[:3, 3]
    return out


def _weights(obj, mesh, bones: dict[str, int]) -> np.ndarray:
    """(V, P) weights of a mesh's vertices to the parts (bones) ``bones`` (name -> index)."""
    group_part = {g.index: bones.get(g.name, -1) for g in obj.vertex_groups}
    w = np.zeros((len(mesh.vertices), len(bones)))
    for v in mesh.vertices:
        for g in v.groups:
            p = group_part.get(g.group, -1)
            if p >= 0:
                w[v.index, p] += g.weight
    return w


def read_clip(scene, character: Character, frames) -> CharacterClip:
    """Joints, evaluated vertices (every frame) and weights, bone ends (first frame)."""
    frames = np.asarray(list(frames), np.int64)
    arm = character.armature
    bones = {b.name: i for i, b in enumerate(arm.data.bones) if b.use_deform}
    joints, verts = [], []
    faces = weights = heads = tails = None
    current = scene.frame_current
    try:
        for t in frames:
            scene.frame_set(int(t))
            depsgraph = compat.view_layer_depsgraph(scene)
            arm_eval = arm.evaluated_get(depsgraph)
            joints.append(joints_of(arm_eval, character.mapping))
            frame_verts, frame_faces, frame_weights, offset = [], [], [], 0
            for obj in character.meshes:
                local, tris, matrix = user_scene.evaluated_mesh(obj, depsgraph)
                frame_verts.append(local @ matrix[:3, :3].T + matrix[:3, 3])
                frame_faces.append(tris + offset)
                offset += len(local)
                if weights is None:  # the evaluated mesh keeps the weights through modifiers
                    ev = obj.evaluated_get(depsgraph)
                    try:
                        frame_weights.append(_weights(obj, ev.to_mesh(), bones))
                    finally:
                        ev.to_mesh_clear()
                    if len(frame_weights[-1]) != len(local):
                        raise ConfigError(f"character mesh {obj.name!r}: cannot read its vertex weights")
            v = np.concatenate(frame_verts)
            if faces is None:
                faces, weights = np.concatenate(frame_faces), np.concatenate(frame_weights)
                world = np.array(arm_eval.matrix_world, np.float64)
                names = list(bones)
                heads = np.array([arm_eval.pose.bones[n].head for n in names], np.float64) @ world[:3, :3].T + world[:3, 3]
                tails = np.array([arm_eval.pose.bones[n].tail for n in names], np.float64) @ world[:3, :3].T + world[:3, 3]
            elif v.shape[0] != verts[0].shape[0] or not np.array_equal(np.concatenate(frame_faces), faces):
                raise ConfigError(f"character {arm.name!r}: its meshes change topology at frame {int(t)}; "
                                  "expected the same vertices and faces in every frame")
            verts.append(v)
    finally:
        scene.frame_set(current)
    if not len(faces):
        raise ConfigError(f"character {arm.name!r}: its meshes have no faces")
    return CharacterClip(frames, np.array(joints), np.array(verts), faces, weights, tuple(bones),
                         heads, tails, deform_parents(arm, bones))


def deform_parents(arm, bones: dict[str, int]) -> np.ndarray:
    """(P,) the nearest deforming ancestor of every deforming bone (-1: none)."""
    out = np.full(len(bones), -1, np.int64)
    for name, i in bones.items():
        parent = arm.data.bones[name].parent
        while parent is not None and parent.name not in bones:
            parent = parent.parent
        out[i] = bones[parent.name] if parent is not None else -1
    return out


@dataclass(eq=False)
class CharacterLabels:
    clip: CharacterClip
    body: mesh_body.MeshBody
    camera: Camera
    labels: VisibilityLabels

    @property
    def joints_cam(self) -> np.ndarray:
        return world_to_camera(self.clip.joints_world, self.camera)


def label_character(scene, character: Character, camera: Camera, frames,
                    occluders: OccluderSet | None = None,
                    params: VisibilityParams = VisibilityParams()) -> CharacterLabels:
    """Mesh-body labels of the character over ``frames``, seen by ``camera``, with the user's
    ``occluders`` (world frame, one pose per frame, or None)."""
    clip = read_clip(scene, character, frames)
    body = clip.mesh_body(params)
    joints_cam = world_to_camera(clip.joints_world, camera)
    verts_cam = world_to_camera(clip.vertices_world, camera)
    occ = occluders.in_camera_frame(camera) if occluders is not None and occluders.num_primitives else None
    lab = mesh_body.label_mesh_body(joints_cam, verts_cam, body, camera, occ, params)
    return CharacterLabels(clip, body, camera, lab)
