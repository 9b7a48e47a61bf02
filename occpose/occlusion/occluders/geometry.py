"""Occluder geometry: the primitives of one sequence, frame by frame.

An :class:`OccluderSet` is the record written into every arrays file (``occluder_*`` keys) and
read by both labelling backends (the analytic ray caster and Blender), so a dataset file alone
re-derives every visibility label. All lengths are metres; poses are rigid object-to-world
transforms (4, 4) per frame, in the world frame unless a method says otherwise (see
:meth:`OccluderSet.in_camera_frame`).

Each primitive is defined in its own *object frame*:

========  ============================================================================
BOX       centred at the origin, half extents ``size`` along the object x, y, z axes
CYLINDER  axis along object z, centred at the origin; ``size = (radius, radius, half
          height)``; flat caps at z = +-half height
SPHERE    centred at the origin; ``size = (radius, radius, radius)``
CAPSULE   segment from (0, 0, -h) to (0, 0, +h) thickened by the radius;
          ``size = (radius, radius, h)``; h = 0 is a sphere
MESH      the vertices of ``meshes[mesh_index]`` scaled per axis by ``size``
========  ============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOX, CYLINDER, SPHERE, CAPSULE, MESH = 0, 1, 2, 3, 4
SHAPE_NAMES: dict[int, str] = {BOX: "box", CYLINDER: "cylinder", SPHERE: "sphere",
                               CAPSULE: "capsule", MESH: "mesh"}
SHAPE_CODES: dict[str, int] = {v: k for k, v in SHAPE_NAMES.items()}

PREFIX = "occluder_"
RIGID_TOLERANCE = 1e-6  # max |R R^T - I| and |det R - 1| accepted for a pose


@dataclass(frozen=True, eq=False)
class MeshData:
    """A triangle mesh in its object frame.

    Attributes:
        name: identifier (file stem or procedural name).
        vertices: (V, 3) float64 metres, object frame.
        faces: (F, 3) int64 vertex indices, counter-clockwise seen from outside.
        sha256: checksum of the source file, ``""`` for procedural meshes.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    sha256: str = ""

    def __post_init__(self) -> None:
        v = np.ascontiguousarray(self.vertices, dtype=np.float64)
        f = np.ascontiguousarray(self.faces, dtype=np.int64)
        if v.ndim != 2 or v.shape[1] != 3 or len(v) < 3:
            raise ValueError(f"mesh {self.name!r}: vertices must be (V>=3, 3), got {v.shape}")
        if f.ndim != 2 or f.shape[1] != 3 or len(f) < 1:
            raise ValueError(f"mesh {self.name!r}: faces must be (F>=1, 3), got {f.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"mesh {self.name!r}: vertices contain non-finite values")
        if f.min() < 0 or f.max() >= len(v):
            raise ValueError(f"mesh {self.name!r}: face indices outside [0, {len(v)})")
        object.__setattr__(self, "vertices", v)
        object.__setattr__(self, "faces", f)

    @property
    def triangles(self) -> np.ndarray:
        """(F, 3, 3) float64 triangle corners, object frame."""
        return self.vertices[self.faces]


def rigid_transform(rotation=None, translation=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(4, 4) float64 object-to-world transform from a (3, 3) rotation and a (3,) translation."""
    m = np.eye(4)
    if rotation is not None:
        m[:3, :3] = np.asarray(rotation, dtype=np.float64)
    m[:3, 3] = np.asarray(translation, dtype=np.float64)
    return m


def rotation_z(angle: float) -> np.ndarray:
    """(3, 3) rotation by ``angle`` radians about the z axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True, eq=False)
class OccluderSet:
    """All occluder primitives of one sequence. World frame unless stated.

    Attributes:
        shape: (O,) int8 shape code (:data:`BOX`, :data:`CYLINDER`, ...).
        size: (O, 3) float64 metres, see the module docstring per shape.
        pose: (T, O, 4, 4) float64 object-to-world rigid transform per frame.
        group: (O,) int32; primitives with the same id form one occluder.
        color: (O, 3) float32 RGB in [0, 1].
        mesh_index: (O,) int32 index into ``meshes``, -1 for analytic primitives.
        meshes: the meshes referenced by ``mesh_index``.
    """

    shape: np.ndarray
    size: np.ndarray
    pose: np.ndarray
    group: np.ndarray
    color: np.ndarray
    mesh_index: np.ndarray
    meshes: tuple[MeshData, ...] = ()

    def __post_init__(self) -> None:
        coerce = {"shape": np.int8, "size": np.float64, "pose": np.float64, "group": np.int32,
                  "color": np.float32, "mesh_index": np.int32}
        for name, dtype in coerce.items():
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))
        object.__setattr__(self, "meshes", tuple(self.meshes))
        self.validate()

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def empty(cls, n_frames: int) -> "OccluderSet":
        """A set with no primitives over ``n_frames`` frames."""
        return cls(shape=np.zeros(0, np.int8), size=np.zeros((0, 3)),
                   pose=np.zeros((n_frames, 0, 4, 4)), group=np.zeros(0, np.int32),
                   color=np.zeros((0, 3), np.float32), mesh_index=np.zeros(0, np.int32))

    @classmethod
    def from_primitives(cls, shape, size, pose, group=None, color=None, mesh_index=None,
                        meshes=()) -> "OccluderSet":
        """Build a set with defaults: one group per primitive, grey, no meshes.

        ``pose`` is (T, O, 4, 4), or (O, 4, 4) for a single frame.
        """
        shape = np.atleast_1d(np.asarray(shape, dtype=np.int8))
        n = len(shape)
        pose = np.asarray(pose, dtype=np.float64)
        if pose.ndim == 3:
            pose = pose[None]
        return cls(shape=shape, size=np.asarray(size, dtype=np.float64).reshape(n, 3), pose=pose,
                   group=np.arange(n, dtype=np.int32) if group is None else group,
                   color=np.full((n, 3), 0.5, np.float32) if color is None else color,
                   mesh_index=np.full(n, -1, np.int32) if mesh_index is None else mesh_index,
                   meshes=meshes)

    # ------------------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise ValueError naming the field when shapes, values or poses are inconsistent."""
        o = self.shape.shape[0] if self.shape.ndim == 1 else -1
        if o < 0:
            raise ValueError(f"occluder shape must be (O,), got {self.shape.shape}")
        expected = {"size": (o, 3), "group": (o,), "color": (o, 3), "mesh_index": (o,)}
        for name, shp in expected.items():
            if getattr(self, name).shape != shp:
                raise ValueError(f"occluder {name} must have shape {shp} for {o} primitives, "
                                 f"got {getattr(self, name).shape}")
        if self.pose.ndim != 4 or self.pose.shape[1:] != (o, 4, 4):
            raise ValueError(f"occluder pose must have shape (T, {o}, 4, 4), got {self.pose.shape}")
        for name in ("size", "pose", "color"):
            if not np.isfinite(getattr(self, name)).all():
                raise ValueError(f"occluder {name} contains non-finite values")
        bad = ~np.isin(self.shape, list(SHAPE_NAMES))
        if bad.any():
            codes = sorted(set(self.shape[bad].tolist()))
            raise ValueError(f"occluder shape codes {codes} unknown; expected {SHAPE_NAMES}")
        capsule = self.shape[:, None] == CAPSULE
        min_size = np.where(capsule, [0.0, 0.0, -1.0], 0.0)  # a capsule's h may be 0 (a ball)
        bad = ((self.size <= min_size) | (capsule & (self.size < 0))).any(axis=1)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"occluder size must be positive (primitive {i}, "
                             f"{SHAPE_NAMES[int(self.shape[i])]}: {self.size[i].tolist()})")
        if (self.color < 0).any() or (self.color > 1).any():
            raise ValueError("occluder color must lie in [0, 1]")
        if (self.group < 0).any():
            raise ValueError("occluder group ids must be non-negative")
        is_mesh = self.shape == MESH
        if (self.mesh_index[~is_mesh] != -1).any():
            raise ValueError("occluder mesh_index must be -1 for analytic primitives")
        if is_mesh.any() and ((self.mesh_index[is_mesh] < 0).any()
                              or (self.mesh_index[is_mesh] >= len(self.meshes)).any()):
            raise ValueError(f"occluder mesh_index must index meshes (0..{len(self.meshes) - 1}) "
                             f"for MESH primitives, got {self.mesh_index[is_mesh].tolist()}")
        if o and self.n_frames:
            rot = self.pose[..., :3, :3]
            ortho = np.abs(rot @ np.swapaxes(rot, -1, -2) - np.eye(3)).max()
            det = np.abs(np.linalg.det(rot) - 1.0).max()
            last = np.abs(self.pose[..., 3, :] - np.array([0.0, 0.0, 0.0, 1.0])).max()
            if ortho > RIGID_TOLERANCE or det > RIGID_TOLERANCE or last > 0:
                raise ValueError(f"occluder pose is not a rigid transform (|RR^T - I| = "
                                 f"{ortho:.2e}, |det R - 1| = {det:.2e}, bottom row error "
                                 f"{last:.2e}); scale belongs in size")

    # ------------------------------------------------------------------------------ properties
    @property
    def num_primitives(self) -> int:
        return int(self.shape.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.pose.shape[0])

    @property
    def num_groups(self) -> int:
        return len(np.unique(self.group))

    def _replace(self, **changes) -> "OccluderSet":
        fields = dict(shape=self.shape, size=self.size, pose=self.pose, group=self.group,
                      color=self.color, mesh_index=self.mesh_index, meshes=self.meshes)
        fields.update(changes)
        return OccluderSet(**fields)

    # ------------------------------------------------------------------------------ transforms
    def in_camera_frame(self, camera) -> "OccluderSet":
        """The same set with poses object-to-camera (x right, y down, z forward)."""
        rot = np.asarray(camera.rot_world_to_cam, dtype=np.float64)
        pose = rigid_transform(rot, -rot @ np.asarray(camera.position, dtype=np.float64)) @ self.pose  # (T, O, 4, 4)
        pose[..., 3, :] = (0.0, 0.0, 0.0, 1.0)
        return self._replace(pose=pose)

    def select_frames(self, frames) -> "OccluderSet":
        """Frames by slice or index array (poses only; the primitives stay)."""
        pose = self.pose[frames]
        if pose.ndim == 3:  # an integer index: keep the frame axis
            pose = pose[None]
        return self._replace(pose=pose)

    def concat(self, other: "OccluderSet") -> "OccluderSet":
        """Both sets' primitives in one set (groups and mesh indices of ``other`` offset)."""
        if other.n_frames != self.n_frames:
            raise ValueError(f"cannot concat occluder sets over {self.n_frames} and "
                             f"{other.n_frames} frames")
        g_off = int(self.group.max()) + 1 if self.num_primitives else 0
        m_off = len(self.meshes)
        mesh_index = np.where(other.mesh_index >= 0, other.mesh_index + m_off, -1)
        return OccluderSet(shape=np.concatenate([self.shape, other.shape]),
                           size=np.concatenate([self.size, other.size]),
                           pose=np.concatenate([self.pose, other.pose], axis=1),
                           group=np.concatenate([self.group, other.group + g_off]),
                           color=np.concatenate([self.color, other.color]),
                           mesh_index=np.concatenate([self.mesh_index, mesh_index]),
                           meshes=self.meshes + other.meshes)

    def mesh_vertices(self, i: int) -> np.ndarray:
        """(V, 3) float64: vertices of MESH primitive ``i`` in its object frame, scaled by size."""
        if self.shape[i] != MESH:
            raise ValueError(f"primitive {i} is a {SHAPE_NAMES[int(self.shape[i])]}, not a mesh")
        return self.meshes[int(self.mesh_index[i])].vertices * self.size[i]

    def mesh_triangles(self, i: int) -> np.ndarray:
        """(F, 3, 3) float64: triangles of MESH primitive ``i`` in its object frame, scaled."""
        return self.mesh_vertices(i)[self.meshes[int(self.mesh_index[i])].faces]

    def world_aabb(self) -> np.ndarray:
        """(T, O, 2, 3) float64 axis-aligned bounds (min, max) of every primitive per frame.

        Exact for boxes, spheres, capsules, cylinders and meshes (in the pose's frame: world
        for a world-frame set, camera for :meth:`in_camera_frame`).
        """
        t, o = self.n_frames, self.num_primitives
        out = np.zeros((t, o, 2, 3))
        rot, centre = self.pose[..., :3, :3], self.pose[..., :3, 3]  # (T,O,3,3), (T,O,3)
        for i in range(o):
            code, (sx, _, sz) = int(self.shape[i]), self.size[i]
            r, c = rot[:, i], centre[:, i]
            if code == BOX:
                ext = np.abs(r) @ self.size[i]
            elif code == SPHERE:
                ext = np.full((t, 3), sx)
            elif code == CAPSULE:
                ext = np.abs(r[:, :, 2]) * sz + sx
            elif code == CYLINDER:
                axis = r[:, :, 2]
                ext = np.abs(axis) * sz + sx * np.sqrt(np.clip(1.0 - axis ** 2, 0.0, None))
            else:
                v = self.mesh_vertices(i) @ np.swapaxes(r, -1, -2) + c[:, None]  # (T, V, 3)
                out[:, i, 0], out[:, i, 1] = v.min(axis=1), v.max(axis=1)
                continue
            out[:, i, 0], out[:, i, 1] = c - ext, c + ext
        return out

    # ------------------------------------------------------------------------------ arrays I/O
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat arrays (no pickles) under ``occluder_*`` keys; :meth:`from_arrays` inverts it.

        Poses stay float64 so labels re-derive exactly. Meshes are stored concatenated:
        ``occluder_mesh_vertices`` (sum V, 3) float64 and ``occluder_mesh_faces`` (sum F, 3) int64
        (indices local to each mesh), split by ``occluder_mesh_vertex_offsets`` and
        ``occluder_mesh_face_offsets`` (M + 1,), with ``occluder_mesh_names`` and
        ``occluder_mesh_sha256`` (M,) unicode.
        """
        vcount = [len(m.vertices) for m in self.meshes]
        fcount = [len(m.faces) for m in self.meshes]
        return {
            PREFIX + "shape": self.shape.copy(),
            PREFIX + "size": self.size.copy(),
            PREFIX + "pose": self.pose.copy(),
            PREFIX + "group": self.group.copy(),
            PREFIX + "color": self.color.copy(),
            PREFIX + "mesh_index": self.mesh_index.copy(),
            PREFIX + "mesh_names": np.array([m.name for m in self.meshes], np.str_).reshape(-1),
            PREFIX + "mesh_sha256": np.array([m.sha256 for m in self.meshes], np.str_).reshape(-1),
            PREFIX + "mesh_vertex_offsets": np.cumsum([0] + vcount, dtype=np.int64),
            PREFIX + "mesh_face_offsets": np.cumsum([0] + fcount, dtype=np.int64),
            PREFIX + "mesh_vertices": (np.concatenate([m.vertices for m in self.meshes])
                                       if self.meshes else np.zeros((0, 3))),
            PREFIX + "mesh_faces": (np.concatenate([m.faces for m in self.meshes])
                                    if self.meshes else np.zeros((0, 3), np.int64)),
        }

    @classmethod
    def from_arrays(cls, arrays) -> "OccluderSet":
        """Inverse of :meth:`to_arrays` (accepts a dict or an ``np.load`` result)."""
        def get(key):
            try:
                return np.asarray(arrays[PREFIX + key])
            except KeyError:
                raise ValueError(f"occluder arrays lack the key {PREFIX + key!r}") from None

        voff, foff = get("mesh_vertex_offsets"), get("mesh_face_offsets")
        names, sha = get("mesh_names"), get("mesh_sha256")
        verts, faces = get("mesh_vertices"), get("mesh_faces")
        if not (len(voff) == len(foff) == len(names) + 1 == len(sha) + 1):
            raise ValueError("occluder mesh offsets, names and checksums disagree in length")
        meshes = tuple(MeshData(str(names[k]), verts[voff[k]:voff[k + 1]],
                                faces[foff[k]:foff[k + 1]], str(sha[k]))
                       for k in range(len(names)))
        return cls(shape=get("shape"), size=get("size"), pose=get("pose"), group=get("group"),
                   color=get("color"), mesh_index=get("mesh_index"), meshes=meshes)
