"""Ray-cast visibility against a *mesh* body (a user's skinned character), numpy only.

The capsule definition (:mod:`.visibility`) carried over to a triangle mesh whose vertices are
weighted to bones:

* **Parts.** Every triangle belongs to one *part*: the bone with the largest weight summed over
  its three corners (``face_parts``); a triangle with no weight is part -1. Parts play the role
  of the capsule segments.
* **Own parts.** ``own[j, p]`` marks the parts of joint j -- for a rig, the bones one of whose
  ends lies at the joint and the parents of those that start there (:func:`own_parts`: the
  hip's are the thigh and the pelvis); for the cylinder-man, ``BodyModel.incidence``.
  Part -1 is nobody's own part.
* **Joint radius.** A part's radius is the median distance of its vertices to its bone
  segment, its *spread* the 90th percentile minus the median (:func:`part_radii`). Joint j's
  surface radius r_j is the largest radius of its own parts -- as a capsule joint's is the
  largest radius of its segments -- and its own-part tolerance is ``params.tolerance`` plus the
  largest spread of its own parts (0 for a round limb, a few cm for a flat torso), so the
  joint's own skin in front of it is forgiven where the limb is wider than its median radius.
* **Rays.** The same K targets as the capsule definition (``visibility.ray_targets`` with r_j):
  the front surface point s = p + r_j (c - p)/|c - p| and the sunflower disk around it.
* **Blocked.** Ray k of length L_k is blocked when it crosses a body triangle at t < L_k - tol,
  tol = the joint's own-part tolerance for its own parts and 1e-6 m for every other triangle,
  or enters an occluder at t < L_k - 1e-6 m (:func:`~.primitives.ray_occluders`). Its first
  blocker is the body or the object with the smallest such t (ties go to the object).
* Labels, out_of_frame and the four exclusive joint states are then exactly the capsule
  definition's (``visibility.labels_from_counts``).

On occpose's cylinder-man exported as a skinned mesh (:func:`capsule_body_mesh`: every capsule
tessellated and weighted to its segment) this reproduces the capsule labels up to the
tessellation (``tests/test_mesh_body.py`` measures the agreement).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import primitives
from .visibility import (OTHER_TOLERANCE, VisibilityLabels, VisibilityParams, labels_from_counts,
                         out_of_frame_mask, ray_targets)

FACE_CHUNK = 4096  # triangles per ray-triangle batch (keeps the (R, 5 F) products small)


@dataclass(frozen=True, eq=False)
class MeshBody:
    """A skinned body mesh's static description (topology, parts, radii).

    Attributes:
        faces: (F, 3) int64 vertex indices.
        face_part: (F,) int64 part (bone) index per triangle, -1 for none.
        own: (J, P) bool, the own parts of every joint.
        joint_radius: (J,) float64 metres, surface radius r_j.
        own_tolerance: (J,) float64 metres, tolerance for hits on the joint's own parts.
        part_names: (P,) names of the parts (bones), for messages.
    """

    faces: np.ndarray
    face_part: np.ndarray
    own: np.ndarray
    joint_radius: np.ndarray
    own_tolerance: np.ndarray
    part_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        faces = np.asarray(self.faces, np.int64)
        part = np.asarray(self.face_part, np.int64)
        own = np.asarray(self.own, bool)
        if faces.ndim != 2 or faces.shape[1] != 3 or not len(faces):
            raise ValueError(f"mesh body faces must be (F>0, 3), got {faces.shape}")
        if part.shape != faces.shape[:1]:
            raise ValueError(f"mesh body face_part must be ({len(faces)},), got {part.shape}")
        if own.ndim != 2 or part.max() >= own.shape[1] or part.min() < -1:
            raise ValueError(f"mesh body face_part must index the {own.shape[-1]} parts of own or be -1")
        n_j = own.shape[0]
        for name in ("joint_radius", "own_tolerance"):
            v = np.asarray(getattr(self, name), np.float64)
            if v.shape != (n_j,) or not np.isfinite(v).all() or (v < 0).any():
                raise ValueError(f"mesh body {name} must be ({n_j},) finite and >= 0")
            object.__setattr__(self, name, v)
        object.__setattr__(self, "faces", faces)
        object.__setattr__(self, "face_part", part)
        object.__setattr__(self, "own", own)

    @property
    def num_joints(self) -> int:
        return int(self.own.shape[0])


BODY_MESH_FILE = "body_mesh.npz"  # sequences/<id>/body_mesh.npz of a scene benchmark


def body_mesh_arrays(vertices_world: np.ndarray, body: MeshBody) -> dict[str, np.ndarray]:
    """The arrays of ``sequences/<id>/body_mesh.npz``: everything :func:`label_mesh_body` needs
    besides the joints, camera and occluders of ``arrays.npz``, so a character's labels are
    re-derivable from the files. ``vertices_world`` (T, V, 3) must be float32-exact (the labels
    are computed from the rounded vertices)."""
    return {"vertices_world": np.asarray(vertices_world, np.float32),
            "faces": body.faces.astype(np.int64), "face_part": body.face_part.astype(np.int64),
            "own": body.own.copy(), "joint_radius": body.joint_radius.copy(),
            "own_tolerance": body.own_tolerance.copy(),
            "part_names": np.array(body.part_names, np.str_).reshape(-1)}


def body_mesh_from_arrays(arrays, n_frames: int, n_joints: int, where: str = "body mesh"
                          ) -> tuple[np.ndarray, MeshBody]:
    """Inverse of :func:`body_mesh_arrays`, validated (an untrusted file): returns the (T, V, 3)
    float64 world vertices and the :class:`MeshBody`. Raises ValueError naming the array."""
    need = ("vertices_world", "faces", "face_part", "own", "joint_radius", "own_tolerance", "part_names")
    missing = [k for k in need if k not in arrays]
    if missing:
        raise ValueError(f"{where}: lacks the arrays {', '.join(missing)}")
    verts = np.asarray(arrays["vertices_world"])
    if verts.dtype != np.float32 or verts.ndim != 3 or verts.shape[0] != n_frames or verts.shape[2] != 3:
        raise ValueError(f"{where}: vertices_world must be ({n_frames}, V, 3) float32, got "
                         f"{verts.shape} {verts.dtype}")
    if not np.isfinite(verts).all():
        raise ValueError(f"{where}: vertices_world holds non-finite values")
    faces, part, own = arrays["faces"], arrays["face_part"], np.asarray(arrays["own"])
    if faces.dtype.kind != "i" or part.dtype.kind != "i" or own.dtype != bool or own.shape[:1] != (n_joints,):
        raise ValueError(f"{where}: faces and face_part must be integers and own ({n_joints}, P) bool")
    if faces.size and (faces.min() < 0 or faces.max() >= verts.shape[1]):
        raise ValueError(f"{where}: faces index outside the {verts.shape[1]} vertices")
    try:
        body = MeshBody(faces, part, own, arrays["joint_radius"], arrays["own_tolerance"],
                        tuple(str(n) for n in np.asarray(arrays["part_names"]).reshape(-1)))
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    return verts.astype(np.float64), body


def face_parts(faces: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(F,) int64 part of every triangle: argmax over bones of the corners' summed weights.

    Args:
        faces: (F, 3) vertex indices; weights: (V, P) vertex weights per bone (>= 0).
    Returns -1 for triangles whose corners carry no weight.
    """
    summed = np.asarray(weights, np.float64)[np.asarray(faces, np.int64)].sum(axis=1)  # (F, P)
    part = summed.argmax(axis=1)
    return np.where(summed.max(axis=1) > 0, part, -1).astype(np.int64)


def point_segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) distances of points (N, 3) to the segment a-b (3,)."""
    ab = b - a
    den = float(ab @ ab)
    s = np.clip((points - a) @ ab / den, 0.0, 1.0) if den > 0 else np.zeros(len(points))
    return np.linalg.norm(points - (a + s[:, None] * ab), axis=1)


def part_radii(vertices: np.ndarray, faces: np.ndarray, face_part: np.ndarray, heads: np.ndarray,
               tails: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median radius and spread (90th percentile - median) of every part, metres.

    Args:
        vertices: (V, 3) one pose of the mesh; heads, tails: (P, 3) bone ends in the same frame.
    Returns:
        radius, spread: (P,) float64; 0 for parts without triangles.
    """
    n_p = len(heads)
    radius, spread = np.zeros(n_p), np.zeros(n_p)
    for p in range(n_p):
        idx = np.unique(faces[face_part == p])
        if len(idx):
            d = point_segment_distance(vertices[idx], heads[p], tails[p])
            radius[p] = np.median(d)
            spread[p] = np.percentile(d, 90) - radius[p]
    return radius, spread


def own_parts(joints: np.ndarray, heads: np.ndarray, tails: np.ndarray, parents=None,
              rel: float = 0.1, floor: float = 0.01) -> np.ndarray:
    """(J, P) bool: bone p is joint j's own part when one of its ends lies at the joint (within
    ``max(floor, rel * bone length)`` metres), and so is the parent of a bone whose head lies
    there (the thigh starts in the pelvis: the hip joint's own parts are the thigh and the
    pelvis, as the capsule hip's are the thigh, pelvis and flank).

    Args:
        parents: (P,) parent part index per part, -1 for none (None: no parents).
    """
    length = np.linalg.norm(tails - heads, axis=1)  # (P,)
    near = np.maximum(floor, rel * length)[None]
    at_head = np.linalg.norm(joints[:, None] - heads[None], axis=-1) <= near  # (J, P)
    own = at_head | (np.linalg.norm(joints[:, None] - tails[None], axis=-1) <= near)
    if parents is not None:
        parents = np.asarray(parents, np.int64)
        j, p = np.nonzero(at_head & (parents >= 0)[None])
        own[j, parents[p]] = True
    return own


def make_mesh_body(vertices: np.ndarray, faces: np.ndarray, face_part: np.ndarray, own: np.ndarray,
                   heads: np.ndarray, tails: np.ndarray, params: VisibilityParams,
                   part_names=()) -> MeshBody:
    """A :class:`MeshBody` with radii and tolerances estimated from one pose of the mesh
    (``vertices`` (V, 3), bone ``heads``/``tails`` (P, 3) in the same frame)."""
    radius, spread = part_radii(vertices, faces, face_part, heads, tails)
    own = np.asarray(own, bool)
    joint_radius = np.where(own, radius[None], 0.0).max(axis=1)
    tolerance = params.tolerance + np.where(own, spread[None], 0.0).max(axis=1)
    return MeshBody(faces, face_part, own, joint_radius, tolerance, tuple(part_names))


def first_blockers(vertices_cam: np.ndarray, body: MeshBody, targets: np.ndarray,
                   occluders_cam=None) -> tuple[np.ndarray, np.ndarray]:
    """Blocked and first-blocked-by-object flags of one frame's rays.

    Args:
        vertices_cam: (V, 3) the posed mesh, camera frame; targets: (J, K, 3) ray targets.
        occluders_cam: a 1-frame OccluderSet in the camera frame, or None.
    Returns:
        blocked, by_object: (J, K) bool.
    """
    n_j, k = targets.shape[:2]
    q = targets.reshape(-1, 3)  # (R, 3)
    length = np.linalg.norm(q, axis=1)
    dirs = q / length[:, None]
    t_body = np.full(len(q), np.inf)
    tri = vertices_cam[body.faces]  # (F, 3, 3)
    candidates = _candidate_faces(tri, targets)  # (J, F) bool
    for j in range(n_j):
        rays = slice(j * k, (j + 1) * k)
        faces = np.flatnonzero(candidates[j])
        for s in range(0, len(faces), FACE_CHUNK):
            idx = faces[s:s + FACE_CHUNK]
            part = body.face_part[idx]
            t = primitives.triangle_distances(np.zeros((k, 3)), dirs[rays], tri[idx])  # (K, f)
            own = (part >= 0) & body.own[j, np.maximum(part, 0)]  # (f,)
            stop = length[rays, None] - np.where(own, body.own_tolerance[j], OTHER_TOLERANCE)[None]
            t_body[rays] = np.minimum(t_body[rays], np.where(t < stop, t, np.inf).min(axis=1))
    origin = np.zeros_like(q)
    t_obj = np.full(len(q), np.inf)
    if occluders_cam is not None and occluders_cam.num_primitives:
        t = primitives.ray_occluders(origin[None], dirs[None], occluders_cam)[0]  # (R, O)
        t_obj = np.where(t < (length - OTHER_TOLERANCE)[:, None], t, np.inf).min(axis=1)
    blocked = np.isfinite(t_body) | np.isfinite(t_obj)
    by_object = np.isfinite(t_obj) & (t_obj <= t_body)
    return blocked.reshape(n_j, k), by_object.reshape(n_j, k)


def _candidate_faces(tri: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(J, F) bool: triangles whose image-plane bounding box (x/z, y/z) meets that of joint j's
    rays -- the only ones those rays can cross (all, for anything at or behind the camera)."""
    z = tri[..., 2]
    behind_f = (z <= 1e-9).any(axis=1)  # (F,)
    uv = tri[..., :2] / np.where(z > 1e-9, z, 1.0)[..., None]  # (F, 3, 2)
    f_lo, f_hi = uv.min(axis=1), uv.max(axis=1)  # (F, 2)
    tz = targets[..., 2]
    behind_j = (tz <= 1e-9).any(axis=1)  # (J,)
    tuv = targets[..., :2] / np.where(tz > 1e-9, tz, 1.0)[..., None]  # (J, K, 2)
    j_lo, j_hi = tuv.min(axis=1), tuv.max(axis=1)  # (J, 2)
    overlap = ((f_lo[None] <= j_hi[:, None] + 1e-9) & (f_hi[None] >= j_lo[:, None] - 1e-9)).all(axis=-1)
    return overlap | behind_f[None] | behind_j[:, None]


def label_mesh_body(joints_cam: np.ndarray, vertices_cam: np.ndarray, body: MeshBody, camera,
                    occluders_cam=None, params: VisibilityParams = VisibilityParams()
                    ) -> VisibilityLabels:
    """Visibility labels of a mesh body's joints (definition: module docstring).

    Args:
        joints_cam: (T, J, 3) metres, camera frame; vertices_cam: (T, V, 3) the posed mesh.
        occluders_cam: OccluderSet in the camera frame with T frames (or 1 static frame), or None.
    Returns:
        :class:`~.visibility.VisibilityLabels`.
    """
    joints_cam = np.asarray(joints_cam, np.float64)
    vertices_cam = np.asarray(vertices_cam, np.float64)
    n_t, n_j = joints_cam.shape[:2]
    if joints_cam.shape[1:] != (body.num_joints, 3) or vertices_cam.ndim != 3 or len(vertices_cam) != n_t:
        raise ValueError(f"joints_cam (T, {body.num_joints}, 3) and vertices_cam (T, V, 3) must share "
                         f"T; got {joints_cam.shape} and {vertices_cam.shape}")
    targets = ray_targets(joints_cam, body.joint_radius, params)  # (T, J, K, 3)
    n_blocked = np.zeros((n_t, n_j), np.int64)
    n_object = np.zeros((n_t, n_j), np.int64)
    for t in range(n_t):
        occ = None
        if occluders_cam is not None and occluders_cam.num_primitives:
            occ = occluders_cam.select_frames(t if occluders_cam.n_frames > 1 else 0)
        blocked, by_object = first_blockers(vertices_cam[t], body, targets[t], occ)
        n_blocked[t], n_object[t] = blocked.sum(axis=1), by_object.sum(axis=1)
    return labels_from_counts(n_blocked, n_object, params.rays, out_of_frame_mask(joints_cam, camera))


def mesh_depth(vertices_cam: np.ndarray, faces: np.ndarray, dirs: np.ndarray, tile: int = 32,
               subtile: int = 8) -> np.ndarray:
    """(H, W) distance from the camera centre to a mesh along every pixel ray (+inf: miss).

    Args:
        vertices_cam: (V, 3) camera frame; faces: (F, 3); dirs: (H, W, 3) pixel ray directions
            (z > 0). Blocks of ``tile`` x ``tile`` pixels keep the triangles whose image-plane
            bounds meet theirs, and ``subtile`` blocks inside them test only those that meet
            theirs, so every ray meets few triangles.
    """
    h, w = dirs.shape[:2]
    tri = np.asarray(vertices_cam, np.float64)[faces]
    z = tri[..., 2]
    front = (z > 1e-9).all(axis=1)
    uv = tri[..., :2] / np.where(z > 1e-9, z, 1.0)[..., None]
    f_lo = np.where(front[:, None], uv.min(axis=1), -np.inf)  # triangles reaching behind: anywhere
    f_hi = np.where(front[:, None], uv.max(axis=1), np.inf)
    ray_uv = dirs[..., :2] / dirs[..., 2:]
    out = np.full((h, w), np.inf)

    def meeting(block_uv, idx):
        lo, hi = block_uv.reshape(-1, 2).min(axis=0), block_uv.reshape(-1, 2).max(axis=0)
        return idx[((f_lo[idx] <= hi) & (f_hi[idx] >= lo)).all(axis=1)]

    everything = np.arange(len(tri))
    for v0 in range(0, h, tile):
        for u0 in range(0, w, tile):
            outer = meeting(ray_uv[v0:v0 + tile, u0:u0 + tile], everything)
            if not len(outer):
                continue
            for v1 in range(v0, min(v0 + tile, h), subtile):
                for u1 in range(u0, min(u0 + tile, w), subtile):
                    idx = meeting(ray_uv[v1:v1 + subtile, u1:u1 + subtile], outer)
                    if not len(idx):
                        continue
                    d = dirs[v1:v1 + subtile, u1:u1 + subtile]
                    shape = d.shape[:2]
                    d = d.reshape(-1, 3)
                    t = np.full(len(d), np.inf)
                    for s in range(0, len(idx), FACE_CHUNK):
                        sub = tri[idx[s:s + FACE_CHUNK]]
                        t = np.minimum(t, primitives.triangle_distances(np.zeros_like(d), d, sub).min(axis=1))
                    out[v1:v1 + shape[0], u1:u1 + shape[1]] = (t / np.linalg.norm(d, axis=1)).reshape(shape)
    return out


def mesh_masks(vertices_cam: np.ndarray, faces: np.ndarray, dirs: np.ndarray, occluders_cam=None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Visible-subject and subject masks (H, W) bool of a mesh body: a pixel is subject when its
    ray hits the mesh, visible when no occluder (1-frame set, camera frame) comes first."""
    t_body = mesh_depth(vertices_cam, faces, dirs)
    subject = np.isfinite(t_body)
    visible = subject.copy()
    if occluders_cam is not None and occluders_cam.num_primitives and subject.any():
        v, u = np.nonzero(subject)
        t_obj = primitives.ray_occluders(np.zeros((len(v), 3)), dirs[v, u], occluders_cam,
                                         frames=np.zeros(len(v), np.int64),
                                         t_max=t_body[v, u, None]).min(axis=1)
        visible[v, u] = ~(t_obj < t_body[v, u])
    return visible, subject


@dataclass(frozen=True, eq=False)
class MeshStageBody:
    """What occluder placement reads of a body (``occluders.stage.make_stage``), for a posed
    mesh: the skeleton, the joints' surface radii, and as "capsules" the mesh's vertices (zero
    length, zero radius), so the stage keeps occluders ``clearance`` in front of the nearest
    vertex in every frame.

    Attributes:
        vertices_world: (T, V, 3) the posed mesh, world metres.
    """

    skeleton: object
    joint_radius: np.ndarray
    vertices_world: np.ndarray

    def capsules(self, joints) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        v = np.asarray(self.vertices_world, np.float64)
        return v, v, np.zeros(v.shape[1])


def place_occluders_on_mesh(joints_world: np.ndarray, vertices_world: np.ndarray, body: MeshBody,
                            camera, target_level: float, rng: np.random.Generator, cfg,
                            params: VisibilityParams = VisibilityParams(), scene_occluders_cam=None,
                            **kwargs):
    """occpose's occluder placement (:func:`~occpose.occlusion.occluders.placement.place_occluders`)
    for a mesh body: every candidate is measured with the mesh-body labels, the stage keeps the
    occluders in front of the mesh.

    Args:
        joints_world: (T, 17, 3), vertices_world: (T, V, 3) world metres; cfg: the preset's
            ``[occluders]`` section; kwargs: passed on (sequence, fps, base_dir).
        scene_occluders_cam: occluders already in the scene (camera frame, T frames): every
            candidate is measured with them, so the level counts all objects. The placed
            occluders are kept in front of the mesh, not away from these.
    Returns:
        the :class:`~occpose.occlusion.occluders.placement.Placement` (labels: mesh-body labels).
    """
    from ...camera import world_to_camera
    from ...skeleton import H36M_17
    from ..occluders.placement import place_occluders

    joints_cam = world_to_camera(np.asarray(joints_world, np.float64), camera).astype(np.float32).astype(np.float64)
    verts_cam = world_to_camera(np.asarray(vertices_world, np.float64), camera)

    def labeller(occ_cam):
        if scene_occluders_cam is not None and scene_occluders_cam.num_primitives:
            occ_cam = scene_occluders_cam if occ_cam is None else occ_cam.concat(scene_occluders_cam)
        return label_mesh_body(joints_cam, verts_cam, body, camera, occ_cam, params)

    stage_body = MeshStageBody(H36M_17, body.joint_radius, vertices_world)
    return place_occluders(joints_world, stage_body, camera, target_level, rng, cfg, params,
                           labeller=labeller, **kwargs)


def capsule_body_mesh(body, joints: np.ndarray, segments: int = 16,
                      rings: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cylinder-man as one skinned mesh: every capsule tessellated, weighted to its segment.

    Args:
        body: :class:`~occpose.body.BodyModel`; joints: (T, J, 3) metres, any frame.
        segments: vertices around; rings: rings per hemisphere. Vertices lie at the capsule's
            mean radius ``r * 2 / (1 + cos(pi / segments))`` (as the Blender bodies).
    Returns:
        vertices (T, V, 3), faces (F, 3) int64, face_part (F,) int64 segment index.
    """
    joints = np.asarray(joints, np.float64)
    a, b, radii = body.capsules(joints)  # (T, S, 3)
    theta = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    lat = np.linspace(0.0, np.pi / 2, rings + 1)[1:]  # hemisphere rings, pole excluded
    circle = np.stack([np.cos(theta), np.sin(theta)], axis=-1)  # (n, 2)
    # unit capsule in local frame: axis z from 0 (bottom pole side) to 1 (top); (x, y, z, top?)
    local, top = [np.array([0.0, 0.0, -1.0])], [False]
    for phi in lat:  # bottom hemisphere from pole to equator (phi: angle from the pole)
        for c in circle:
            local.append(np.array([c[0] * np.sin(phi), c[1] * np.sin(phi), -np.cos(phi)]))
            top.append(False)
    for phi in lat[::-1]:  # top hemisphere from equator to pole
        for c in circle:
            local.append(np.array([c[0] * np.sin(phi), c[1] * np.sin(phi), np.cos(phi)]))
            top.append(True)
    local.append(np.array([0.0, 0.0, 1.0]))
    top.append(True)
    local, top = np.array(local), np.array(top)
    n_ring = 2 * rings
    faces = [[0, 1 + (i + 1) % segments, 1 + i] for i in range(segments)]
    for r in range(n_ring - 1):
        base, nxt = 1 + r * segments, 1 + (r + 1) * segments
        for i in range(segments):
            j = (i + 1) % segments
            faces += [[base + i, base + j, nxt + j], [base + i, nxt + j, nxt + i]]
    last, pole = 1 + (n_ring - 1) * segments, len(local) - 1
    faces += [[last + i, last + (i + 1) % segments, pole] for i in range(segments)]
    faces = np.array(faces, np.int64)
    mean = 2.0 / (1.0 + np.cos(np.pi / segments))
    verts, all_faces, parts = [], [], []
    for s in range(len(body.segments)):
        axis = b[:, s] - a[:, s]  # (T, 3)
        length = np.linalg.norm(axis, axis=1)
        z = axis / np.where(length > 0, length, 1.0)[:, None]
        helper = np.where(np.abs(z[:, [0]]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        x = np.cross(helper, z)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        y = np.cross(z, x)
        r = radii[s] * mean
        pts = (a[:, s, None] + r * (local[None, :, 0, None] * x[:, None] + local[None, :, 1, None] * y[:, None]
               + local[None, :, 2, None] * z[:, None]) + top[None, :, None] * axis[:, None])
        all_faces.append(faces + sum(len(v[0]) for v in verts))
        verts.append(pts)
        parts.append(np.full(len(faces), s, np.int64))
    return np.concatenate(verts, axis=1), np.concatenate(all_faces), np.concatenate(parts)
