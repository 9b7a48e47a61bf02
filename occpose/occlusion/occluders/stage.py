"""The stage: the free space between a camera and a subject's whole motion, where occluders go.

The *view frame* of a sequence is horizontal: origin at the camera's foot point (camera x, y and
z = 0, world metres), ``depth`` along ``u`` (the unit horizontal direction from the camera to the
subject's mean position), ``lateral`` along ``v = (-u_y, u_x, 0)``, ``z`` the world height. Its
axes (u, v, z) are right-handed.

Every occluder point must lie in the slab ``near <= depth <= back`` and above the floor:

* ``back`` = (nearest depth of any body capsule surface in any frame) - clearance. The plane
  depth = back separates every occluder from the body in every frame, and a ray from the camera
  to a joint crosses it before it can reach the body, so occluders are always in front of the
  subject and at least ``clearance`` metres from every capsule.
* ``near`` = ``min_camera_distance``: keeps occluders off the lens (and the camera outside them).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .geometry import rigid_transform, rotation_z


@dataclass(frozen=True, eq=False)
class Stage:
    """The view frame of one sequence and the subject as the camera sees it.

    Attributes:
        origin: (3,) world, the camera's foot point; camera_height: the camera centre's z.
        u, v: (3,) world unit vectors (depth, lateral); both horizontal.
        back, near: depth limits of occluder points (metres).
        slope_lo, slope_hi: (T,) lateral extent of the body seen from the camera, as
            lateral / depth ratios (the tangent of the horizontal angle).
        slope_top: (T,) (z - camera_height) / depth of the highest body point.
        image_slope: (W / 2) / fx, the horizontal half field of view as a ratio.
        fps: frames per second (for speeds).
        joint_slope, joint_vslope: (T, J) lateral / depth and (z - camera_height) / depth of
            every joint: where its line of sight passes at any depth.
        focus: (T, J) weights of the joints occluders should aim at, or None (the whole body).
    """

    origin: np.ndarray
    camera_height: float
    u: np.ndarray
    v: np.ndarray
    back: float
    near: float
    slope_lo: np.ndarray
    slope_hi: np.ndarray
    slope_top: np.ndarray
    image_slope: float
    fps: float
    joint_slope: np.ndarray
    joint_vslope: np.ndarray
    focus: np.ndarray | None = None

    def with_focus(self, weights: np.ndarray | None) -> "Stage":
        """The same stage aiming occluders at joints by (T, J) ``weights`` (None: anywhere)."""
        return replace(self, focus=None if weights is None else np.asarray(weights, np.float64))

    @property
    def n_frames(self) -> int:
        return len(self.slope_lo)

    @property
    def room(self) -> float:
        """Depth of the slab where occluders may go (metres)."""
        return self.back - self.near

    @property
    def world_to_view(self) -> np.ndarray:
        """(4, 4) rigid transform world -> view frame (depth, lateral, z)."""
        rot = np.stack([self.u, self.v, [0.0, 0.0, 1.0]])
        return rigid_transform(rot, -rot @ self.origin)

    def view_aabb(self, occ) -> np.ndarray:
        """(T, O, 2, 3) bounds (min, max) of a world-frame set's primitives in the view frame."""
        return occ._replace(pose=self.world_to_view @ occ.pose).world_aabb()

    def to_world(self, depth, lateral, z) -> np.ndarray:
        """(..., 3) world points from view-frame coordinates (broadcast)."""
        depth, lateral, z = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (depth, lateral, z)))
        return (self.origin + depth[..., None] * self.u + lateral[..., None] * self.v
                + z[..., None] * np.array([0.0, 0.0, 1.0]))

    def rotation(self, yaw: float = 0.0) -> np.ndarray:
        """(3, 3) local -> world rotation of an occluder group.

        Local axes: x lateral (v), y towards the camera (-u), z up; ``yaw`` turns the group
        about z (radians).
        """
        base = np.stack([self.v, -self.u, [0.0, 0.0, 1.0]], axis=1)  # columns: local axes
        return base @ rotation_z(yaw)

    def centre_slope(self) -> np.ndarray:
        """(T,) lateral / depth of the middle of the body's silhouette."""
        return 0.5 * (self.slope_lo + self.slope_hi)

    def line_of_sight_height(self, depth: float, slope) -> np.ndarray:
        """Height at ``depth`` of rays from the camera with vertical slope(s) ``slope``."""
        return self.camera_height + depth * np.asarray(slope)


def make_stage(joints_world: np.ndarray, body, camera, clearance: float, near: float,
               fps: float) -> Stage:
    """The stage of a sequence.

    Args:
        joints_world: (T, J, 3) float64 world joints (metres, Z up).
        body: the BodyModel (capsule radii); camera: the Camera.
        clearance: metres between occluders and body capsules; near: ``min_camera_distance``.
    """
    cam = np.asarray(camera.position, np.float64)
    origin = np.array([cam[0], cam[1], 0.0])
    mean = joints_world[:, 0, :2].mean(axis=0) - cam[:2]
    if np.linalg.norm(mean) < 1e-6:  # subject under the camera: fall back to the optical axis
        mean = np.asarray(camera.rot_world_to_cam, np.float64)[2, :2]
    u2 = mean / max(np.linalg.norm(mean), 1e-12)
    u = np.array([u2[0], u2[1], 0.0])
    v = np.array([-u2[1], u2[0], 0.0])
    rel = joints_world - origin  # (T, J, 3)
    depth = rel @ u  # (T, J)
    lateral = rel @ v
    radius = body.joint_radius  # (J,)
    a, b, seg_r = body.capsules(joints_world)  # (T, S, 3), (T, S, 3), (S,)
    seg_depth = np.minimum((a - origin) @ u, (b - origin) @ u) - seg_r  # (T, S) nearest surface
    back = float(seg_depth.min()) - clearance
    safe = np.maximum(depth, 1e-6)
    slope_lo = ((lateral - radius) / safe).min(axis=1)
    slope_hi = ((lateral + radius) / safe).max(axis=1)
    slope_top = ((joints_world[..., 2] + radius - cam[2]) / safe).max(axis=1)
    return Stage(origin=origin, camera_height=float(cam[2]), u=u, v=v, back=back,
                 near=float(near), slope_lo=slope_lo, slope_hi=slope_hi, slope_top=slope_top,
                 image_slope=0.5 * camera.width / camera.fx,
                 fps=float(fps), joint_slope=lateral / safe,
                 joint_vslope=(joints_world[..., 2] - cam[2]) / safe)
