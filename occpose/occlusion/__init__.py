"""Occluder geometry, ray casting and the ray-cast visibility labels.

Sub-packages: ``raycast/`` (ray casting and the visibility definition), ``occluders/`` (occluder
geometry, sampling and level-controlled placement), ``heuristics/`` (the clustered and boxed-man
heuristics), ``agreement/`` (the heuristics scored against the ray-cast truth).

Imports with numpy only; trimesh (large meshes) and torch (the torch backend) are imported
inside the functions that need them.
"""

from .occluders.geometry import (BOX, CAPSULE, CYLINDER, MESH, SHAPE_CODES, SHAPE_NAMES, SPHERE,
                                 MeshData, OccluderSet, rigid_transform, rotation_z)
from .raycast.primitives import (points_in_triangles, ray_box, ray_capsule, ray_cylinder, ray_mesh,
                                 ray_occluders, ray_primitive, ray_sphere, ray_triangles)
from .raycast.visibility import (VisibilityLabels, VisibilityParams, disk_pattern, label_visibility,
                                 labels_from_counts, ray_targets)

__all__ = [
    "BOX", "CYLINDER", "SPHERE", "CAPSULE", "MESH", "SHAPE_NAMES", "SHAPE_CODES",
    "MeshData", "OccluderSet", "rigid_transform", "rotation_z",
    "ray_sphere", "ray_capsule", "ray_cylinder", "ray_box", "ray_triangles", "ray_mesh",
    "ray_occluders", "ray_primitive", "points_in_triangles",
    "VisibilityParams", "VisibilityLabels", "label_visibility", "labels_from_counts",
    "disk_pattern", "ray_targets",
]
