"""Floor, backdrop, lights, world and materials of a rendered scene, from an :class:`Appearance`.

Materials carry both a node tree (Cycles, EEVEE) and viewport colours (Workbench renders with
``color_type = MATERIAL``). The floor and backdrop are never ray-cast blockers (the labeller
skips them), and the backdrop stands 5 m beyond the capture area's centre, facing the camera.
"""

from __future__ import annotations

import bpy
import numpy as np

from occpose.camera import Camera

from . import bridge, meshes
from .appearance import Appearance, OccluderTextures
from .transforms import quaternions_z_to

FLOOR_SIZE = 30.0  # metres
BACKDROP_DISTANCE = 5.0  # metres beyond the world origin, seen from the camera


def _principled(name: str, color, roughness: float):
    """A material with a Principled BSDF of ``color`` (RGB) and matching viewport settings."""
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = (*color, 1.0)
    mat.roughness = roughness
    mat.use_nodes = True
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    return mat, bsdf


def _textured(mat, bsdf, texture: str, scale: float, color_a, color_b) -> None:
    """Drive the base colour by a procedural texture (object coordinates) mixing two colours."""
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    coords = nodes.new("ShaderNodeTexCoord")
    tex = nodes.new(texture)
    tex.inputs["Scale"].default_value = scale
    ramp = nodes.new("ShaderNodeValToRGB")
    ramp.color_ramp.elements[0].color = (*color_a, 1.0)
    ramp.color_ramp.elements[1].color = (*color_b, 1.0)
    if texture == "ShaderNodeTexChecker":
        ramp.color_ramp.interpolation = "CONSTANT"
        ramp.color_ramp.elements[1].position = 0.5
    links.new(coords.outputs["Object"], tex.inputs["Vector"])
    links.new(tex.outputs["Fac"], ramp.inputs["Fac"])
    links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])


def _plane(scene, name: str, width: float, height: float, matrix: np.ndarray, material):
    coll = bridge.collection(scene, bridge.SCENERY)
    verts = np.array([[-width / 2, -height / 2, 0], [width / 2, -height / 2, 0],
                      [width / 2, height / 2, 0], [-width / 2, height / 2, 0]])
    obj = bridge.mesh_object(name, meshes.MeshArrays(verts, [(0, 1, 2, 3)]), coll, "scenery")
    obj.matrix_world = matrix.T.tolist()
    obj.data.materials.append(material)
    return obj


def build_scenery(scene, app: Appearance, camera: Camera) -> None:
    """Floor, backdrop (facing ``camera``), world and lights."""
    mat, bsdf = _principled("occpose_floor", app.floor_colors[0], 0.8)
    _textured(mat, bsdf, "ShaderNodeTexChecker", app.floor_scale, *app.floor_colors)
    _plane(scene, "occpose_floor", FLOOR_SIZE, FLOOR_SIZE, np.eye(4), mat)

    toward = -np.asarray(camera.position, np.float64)
    toward[2] = 0.0
    toward /= max(np.linalg.norm(toward), 1e-9)  # horizontal direction camera -> origin
    m = np.eye(4)
    m[:3, 0] = np.cross([0.0, 0.0, 1.0], toward)  # plane x: horizontal
    m[:3, 1] = [0.0, 0.0, 1.0]  # plane y: up
    m[:3, 2] = -toward  # normal: facing the camera
    m[:3, 3] = toward * BACKDROP_DISTANCE + [0.0, 0.0, 4.0]
    mat, bsdf = _principled("occpose_backdrop", app.backdrop_color, 0.9)
    dark = tuple(c * 0.7 for c in app.backdrop_color)
    _textured(mat, bsdf, "ShaderNodeTexNoise", 0.8, dark, app.backdrop_color)
    _plane(scene, "occpose_backdrop", FLOOR_SIZE, 8.0, m, mat)

    world = scene.world or bpy.data.worlds.new("occpose_world")
    scene.world = world
    world.color = app.world_color
    world.use_nodes = True
    bg = next(n for n in world.node_tree.nodes if n.type == "BACKGROUND")
    bg.inputs["Color"].default_value = (*app.world_color, 1.0)
    bg.inputs["Strength"].default_value = app.world_strength
    scene.display.shading.studiolight_rotate_z = app.studio_rotation

    coll = bridge.collection(scene, bridge.SCENERY)
    for k, light in enumerate(app.lights):
        data = bpy.data.lights.new(f"occpose_light_{k}", light.kind)
        data.color = light.color
        data.energy = light.strength
        obj = bpy.data.objects.new(f"occpose_light_{k}", data)
        obj[bridge.ROLE] = "scenery"
        coll.objects.link(obj)
        d = np.array([np.cos(light.elevation) * np.cos(light.azimuth),
                      np.cos(light.elevation) * np.sin(light.azimuth), np.sin(light.elevation)])
        if light.kind == "AREA":
            data.size = light.size
            obj.location = (np.array([0.0, 0.0, 1.0]) + light.distance * d).tolist()
        obj.rotation_mode = "QUATERNION"
        obj.rotation_quaternion = quaternions_z_to(d).tolist()  # lights shine along local -z


def paint_body(objs, names: list[str], app: Appearance) -> None:
    """Dress the body segment objects; ``names`` are their ``BodyModel`` segment names (object
    names are not reliable: Blender renames ``occpose_head`` to ``occpose_head.001`` when the
    name is taken). See ``Appearance``."""
    materials: dict = {}
    for obj, name in zip(objs, names, strict=True):
        color = app.segment_color(name)
        if color not in materials:
            materials[color], _ = _principled(f"occpose_body_{len(materials)}", color, app.body_roughness)
        obj.data.materials.append(materials[color])


def paint_occluders(objs, colors: np.ndarray, textures: OccluderTextures) -> None:
    """Per-primitive material: the OccluderSet colour modulated by a noise texture."""
    for i, obj in enumerate(objs):
        color = tuple(float(c) for c in colors[i])
        c = float(textures.contrast[i])
        mat, bsdf = _principled(f"occpose_occluder_{i:02d}", color, float(textures.roughness[i]))
        lo = tuple(v * (1.0 - c) for v in color)
        hi = tuple(min(1.0, v * (1.0 + c)) for v in color)
        _textured(mat, bsdf, "ShaderNodeTexNoise", float(textures.scale[i]), lo, hi)
        obj.data.materials.append(mat)
