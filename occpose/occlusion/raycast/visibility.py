"""Ray-cast visibility labels: the benchmark's ground truth for occlusion.

Definition (ARCHITECTURE.md "Visibility"; every backend implements exactly this):

* Inputs are in the camera frame (metres, x right, y down, z forward); the camera centre c is
  the origin. Joint j at p has surface radius r_j = ``body.joint_radius[j]`` (the largest radius
  of the capsules touching it). Its *target point* is its front surface point
  s = p + r_j (c - p) / |c - p|.
* K = ``params.rays`` sample rays per joint -- K counts the centre ray. Ray k runs from c to
  q_k = s + rho_k (cos(theta_k) e1 + sin(theta_k) e2), a sunflower (Vogel) pattern on the disk of
  radius rho = ``disk_fraction * r_j`` centred at s and perpendicular to the direction c -> s:
  rho_k = rho sqrt(k / (K - 1)), theta_k = k * golden angle (pi (3 - sqrt 5)), k = 0 .. K-1,
  so k = 0 is the centre ray and k = K-1 lies on the rim (K = 1: the centre ray only). The disk
  axes are e1 = normalise(y x u) (horizontal in the image, pointing right for u = z) and
  e2 = u x e1, with u = (s - c)/|s - c|; when u is parallel to y, e1 = x.
* Ray k of length L_k = |q_k - c| is *blocked* when some primitive's first intersection along
  it lies at a distance t with t < L_k - tol, where tol = ``params.tolerance`` for the joint's own
  body segments (``body.incidence[j]``: grazing hits on them are forgiven) and 1e-6 m for every
  other body segment and every occluder. A ray that starts inside a solid hits it at t = 0. The
  primitive with the smallest such t is the ray's first blocker: a body segment or an object.
* visibility = fraction of the K rays that are not blocked.
* out_of_frame: the joint projects outside [0, width) x [0, height) (``camera.project_to_2d``,
  lens distortion included) or lies at or behind the camera plane (z <= 0).
* occluded = (visibility < 0.5) & ~out_of_frame. An occluded joint is occluded_by_object when at
  least as many of its blocked rays are first-blocked by an object as by the body (ties go to the
  object), otherwise occluded_by_body. Every joint-frame is therefore exactly one of: visible,
  occluded_by_body, occluded_by_object, out_of_frame.
* occluder_fraction = occluded_by_object.sum(1) / J; self_occlusion_fraction =
  occluded_by_body.sum(1) / J.

Body segments are the capsules of ``body.capsules(joints_cam)``; occluders come from an
:class:`~occpose.occlusion.occluders.geometry.OccluderSet` already in the camera frame.

Backends (``label_visibility(..., backend=...)``):

``"numpy"`` (default)
    Decides "blocked" per ray with float32 kernels: chunks of frames (``DEFAULT_CHUNK``), all
    joints, rays and primitives at once, no Python loop per frame, joint or ray, and no
    distances computed. The capsules' end balls are tested once per joint (balls at a joint are
    concentric; see :class:`~.engine_numpy._BodyBalls`). Exact float64 first-hit distances are
    computed, for all chunks at once, only for the few rays blocked by both the body and an
    object whose first blocker can change a joint's label. Decisions match the float64
    reference except for rays grazing a primitive within ~1e-6 m of their stopping distance.
    The ray set-up, body preparation and float32 tests run in C where ``pip install`` could
    build it (:mod:`.native`, ``_rays.c``: the numpy kernels of :mod:`.camera_rays`
    operation for operation, dot products as OpenBLAS's reference kernels fuse them), else --
    or with ``OCCPOSE_NATIVE=0`` -- in numpy; the labels are the same bytes either way when
    numpy's OpenBLAS uses its reference (AVX-512) kernels (``occpose._openblas``). Other
    OpenBLAS kernels round some dot products differently, which can flip a grazing ray in the
    numpy kernels, never in the C ones.
    ``workers`` > 1 runs chunks on threads (numpy and the C kernels release the GIL); the
    labels are the same bytes for any chunk size and thread count. Speed
    (``benchmark/bench_visibility.py``: 17 joints x 9 rays, 16 capsules, 4 occluders one of
    them a mesh, 20,000 frames per call, shared 2-core machine, Dec 2026): 42,000-54,000
    frames/s on one thread and 57,000-66,000 on two with the C kernels (59,000-89,000 on two
    without the mesh); 20,000-33,000 with the numpy kernels.
``"torch"``
    The same labels on any device (:mod:`.engine_torch`), dense float32 distances.
``"reference"``
    The definition computed literally with the float64 kernels of :mod:`.primitives`: every
    (ray, primitive) distance. Slow; the yardstick of the tests.

This module holds the definition (parameters, labels, ray targets, label assembly) and the
backend dispatch; the numpy and reference backends are in :mod:`.engine_numpy`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..occluders.geometry import OccluderSet

OTHER_TOLERANCE = 1e-6  # metres: tolerance for every primitive that is not one of the joint's own
GOLDEN_ANGLE = float(np.pi * (3.0 - np.sqrt(5.0)))
DEFAULT_CHUNK = 256  # frames per numpy chunk (bench_visibility.py: 256 beat 64 and 128)


@dataclass(frozen=True)
class VisibilityParams:
    """Parameters of the visibility definition.

    Attributes:
        rays: K, rays per joint including the centre ray (>= 1).
        disk_fraction: sample disk radius as a fraction of the joint's surface radius.
        tolerance: metres forgiven for hits on the joint's own segments.
    """

    rays: int = 9
    disk_fraction: float = 0.5
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        if int(self.rays) != self.rays or not 1 <= self.rays <= 255:
            raise ValueError(f"visibility rays must be an integer in [1, 255], got {self.rays}")
        if not 0.0 <= self.disk_fraction <= 1.0:
            raise ValueError(f"visibility disk_fraction must lie in [0, 1], "
                             f"got {self.disk_fraction}")
        if not 0.0 <= self.tolerance < 1.0:
            raise ValueError(f"visibility tolerance must lie in [0, 1) m, got {self.tolerance}")


@dataclass(frozen=True, eq=False)
class VisibilityLabels:
    """Per-frame, per-joint visibility labels (see the module docstring for the definition).

    Attributes:
        visibility: (T, J) float32 in [0, 1], fraction of unblocked rays.
        occluded, occluded_by_body, occluded_by_object, out_of_frame: (T, J) bool.
        occluder_fraction: (T,) float32, occluded_by_object.sum(1) / J.
        self_occlusion_fraction: (T,) float32, occluded_by_body.sum(1) / J.
    """

    visibility: np.ndarray
    occluded: np.ndarray
    occluded_by_body: np.ndarray
    occluded_by_object: np.ndarray
    out_of_frame: np.ndarray
    occluder_fraction: np.ndarray
    self_occlusion_fraction: np.ndarray

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The labels under their dataset field names."""
        return {k: getattr(self, k) for k in ("visibility", "occluded", "occluded_by_body",
                                               "occluded_by_object", "out_of_frame",
                                               "occluder_fraction", "self_occlusion_fraction")}


def disk_pattern(params: VisibilityParams) -> np.ndarray:
    """(K, 2) float64 sample offsets on the disk, in units of the joint's surface radius."""
    k = np.arange(params.rays, dtype=np.float64)
    rho = params.disk_fraction * np.sqrt(k / max(params.rays - 1, 1))
    theta = k * GOLDEN_ANGLE
    return np.stack([rho * np.cos(theta), rho * np.sin(theta)], axis=-1)


def ray_targets(joints_cam: np.ndarray, joint_radius: np.ndarray,
                params: VisibilityParams) -> np.ndarray:
    """Target points of every sample ray.

    Args:
        joints_cam: (T, J, 3) metres, camera frame; joint_radius: (J,) metres.
    Returns:
        (T, J, K, 3) float64 target points q_k, camera frame (rays start at the origin).
    """
    joints_cam = np.asarray(joints_cam, np.float64)
    targets = _targets_t(joints_cam, joint_radius, params)  # (T, 3, J*K)
    return np.swapaxes(targets, 1, 2).reshape(joints_cam.shape[:2] + (params.rays, 3))


def _targets_t(joints: np.ndarray, joint_radius: np.ndarray,
               params: VisibilityParams) -> np.ndarray:
    """(T, 3, R) float64 ray target points, transposed, rays r = j * K + k."""
    px, py, pz = joints[..., 0], joints[..., 1], joints[..., 2]  # (T, J) each
    dist = np.sqrt(px * px + py * py + pz * pz)
    inv = 1.0 / np.where(dist > 0, dist, 1.0)
    ux, uy, uz = px * inv, py * inv, pz * inv  # u = direction c -> p (= c -> s when |p| > r)
    front = 1.0 - joint_radius * inv  # s = p (1 - r / |p|)
    norm = np.sqrt(ux * ux + uz * uz)  # e1 = normalise(y x u) = (uz, 0, -ux) / norm
    ok = norm > 1e-12  # else u is parallel to y and e1 = x
    inv_norm = np.where(ok, 1.0 / np.where(ok, norm, 1.0), 0.0)
    e1x, e1z = np.where(ok, uz * inv_norm, 1.0), -ux * inv_norm
    e2x, e2y, e2z = uy * e1z, uz * e1x - ux * e1z, -uy * e1x  # e2 = u x e1
    offsets = disk_pattern(params)[None] * joint_radius[:, None, None]  # (J, K, 2)
    ox, oy = offsets[..., 0], offsets[..., 1]
    out = np.empty(joints.shape[:1] + (3,) + offsets.shape[:2])  # (T, 3, J, K)
    out[:, 0] = (px * front)[..., None] + ox * e1x[..., None] + oy * e2x[..., None]
    out[:, 1] = (py * front)[..., None] + oy * e2y[..., None]
    out[:, 2] = (pz * front)[..., None] + ox * e1z[..., None] + oy * e2z[..., None]
    return out.reshape(out.shape[0], 3, out.shape[2] * out.shape[3])


def own_tolerance(body, params: VisibilityParams) -> np.ndarray:
    """(J, S) float64: tolerance per (joint, body segment) pair."""
    return np.where(body.incidence, params.tolerance, OTHER_TOLERANCE)


def out_of_frame_mask(joints_cam: np.ndarray, camera) -> np.ndarray:
    """(T, J) bool: projects outside the image (with distortion) or is not in front (z <= 0)."""
    from ...camera import in_frame, project_to_2d

    pixels = project_to_2d(joints_cam, camera)
    return ~in_frame(pixels, camera, points_cam=joints_cam)


def label_visibility(joints_cam, body, camera, occluders_cam: OccluderSet | None = None,
                     params: VisibilityParams = VisibilityParams(), backend: str = "numpy",
                     device=None, chunk: int = DEFAULT_CHUNK, workers: int = 1
                     ) -> VisibilityLabels:
    """Ray-cast visibility labels for a sequence.

    Args:
        joints_cam: (T, J, 3) metres, camera frame (x right, y down, z forward).
        body: the :class:`~occpose.body.BodyModel` whose capsules are the body segments.
        camera: the :class:`~occpose.camera.Camera` (image size, intrinsics, distortion).
        occluders_cam: occluders in the camera frame (``OccluderSet.in_camera_frame``), with
            T frames (or 1 frame for a static set); None for no occluders.
        params: the definition's parameters.
        backend: ``"numpy"`` (fast, float32 blocked tests), ``"torch"`` (any device) or
            ``"reference"`` (slow and simple: float64 distances to every primitive for every
            ray, the yardstick of the tests).
        device: torch device for the torch backend (default CUDA when available, else CPU).
        chunk: frames per batch (numpy backend; torch batches are set by
            :func:`~occpose.occlusion.raycast.engine_torch.label_visibility_torch`).
        workers: threads for the numpy backend (chunks run in parallel; numpy releases the
            GIL in its loops). The labels do not depend on it.
    Returns:
        :class:`VisibilityLabels` with (T, J) and (T,) arrays.
    """
    joints_cam = np.asarray(joints_cam, np.float64)
    n_j = body.skeleton.num_joints
    if joints_cam.ndim != 3 or joints_cam.shape[1:] != (n_j, 3):
        raise ValueError(f"joints_cam must have shape (T, {n_j}, 3), got {joints_cam.shape}")
    if not np.isfinite(joints_cam).all():
        raise ValueError("joints_cam contains non-finite values")
    occ = _frames_of(occluders_cam, len(joints_cam))
    if backend == "torch":
        from .engine_torch import label_visibility_torch

        return label_visibility_torch(joints_cam, body, camera, occ, params, device=device)
    if backend == "reference":
        from .engine_numpy import _label_reference

        return _label_reference(joints_cam, body, camera, occ, params)
    if backend != "numpy":
        raise ValueError(f"unknown visibility backend {backend!r}; expected numpy, torch or "
                         "reference")
    from .engine_numpy import _label_numpy

    return _label_numpy(joints_cam, body, camera, occ, params, chunk, workers)



def labels_from_counts(n_blocked: np.ndarray, n_object: np.ndarray, rays: int,
                       out_of_frame: np.ndarray) -> VisibilityLabels:
    """Joint labels from blocked-ray counts (T, J) and first-blocked-by-object counts (T, J)."""
    visibility = (1.0 - n_blocked / rays).astype(np.float32)
    occluded = (2 * n_blocked > rays) & ~out_of_frame  # visibility < 0.5, in integers
    by_object = occluded & (2 * n_object >= n_blocked)  # n_object >= n_body, ties to objects
    by_body = occluded & ~by_object
    n_j = visibility.shape[1]
    return VisibilityLabels(
        visibility=visibility, occluded=occluded, occluded_by_body=by_body,
        occluded_by_object=by_object, out_of_frame=out_of_frame,
        occluder_fraction=(by_object.sum(axis=1) / n_j).astype(np.float32),
        self_occlusion_fraction=(by_body.sum(axis=1) / n_j).astype(np.float32))


def _frames_of(occ: OccluderSet | None, n_t: int) -> OccluderSet | None:
    """The occluder set with one pose per frame (a static 1-frame set is repeated)."""
    if occ is None or occ.num_primitives == 0:
        return None
    if occ.n_frames == n_t:
        return occ
    if occ.n_frames == 1:
        return occ._replace(pose=np.broadcast_to(occ.pose, (n_t,) + occ.pose.shape[1:]))
    raise ValueError(f"occluders have {occ.n_frames} frames but joints_cam has {n_t}")
