"""Conservative culling for rays cast from the camera centre: projected bounds (numpy, float64).

Every labelling ray starts at the camera centre, so in normalised image coordinates
(x/z, y/z) a ray with direction w (w_z > 0) is a single point, and it can only meet a primitive
lying entirely in front of the camera (z > 0) when that point falls inside the primitive's
projected silhouette. The silhouette of a ball lies in an axis-aligned box of the image plane
(:func:`ball_bounds`); so do a joint's K rays, which end on a disk inside a ball
(:func:`bundle_bounds`). When the two boxes are disjoint, no ray of the bundle can hit the
ball, and the float32 blocked tests of :mod:`.camera_rays` need not run for that pair.

The culling must never drop a (bundle, ball) pair that the float32 kernel would call a hit,
because the labels are the kernel's answers bit for bit. So the balls are inflated by a margin
far above the kernel's float32 error (:func:`margin`: about 1e-6 m at a few metres, which the
ball test keeps small by computing the ray-to-centre distance from dot products with a
perpendicular basis), and nothing is culled near the camera plane (balls or ray targets
reaching within :data:`Z_MIN` of it).

Only the body's end balls are culled (:func:`~.engine_numpy._ball_hits_culled`): a bundle meets
a few of the 17 balls. Capsules were tried too and lost: a bundle meets about a quarter of the
16 capsules, and gathering their float32 dot products (which must come from the same BLAS
``matmul`` to be bit-identical) cost more than the skipped arithmetic (issue 16 notes).
"""

from __future__ import annotations

import numpy as np

MARGIN = 2e-3  # metres added to every primitive's size ...
MARGIN_PER_M = 2e-4  # ... plus this much per metre of distance from the camera
Z_MIN = 1e-3  # metres: primitives reaching closer to the camera plane are never culled


def margin(distance: np.ndarray) -> np.ndarray:
    """Inflation (metres) of a primitive whose points lie up to ``distance`` from the camera."""
    return MARGIN + MARGIN_PER_M * distance


def bundle_bounds(front: np.ndarray, disk_radius: np.ndarray) -> np.ndarray:
    """(4, T, J) image-plane boxes (x0, x1, y0, y1) of ray bundles, +-inf when not cullable.

    A joint's rays end on a disk of radius ``disk_radius`` (J,) around its front surface point
    ``front`` (T, J, 3), inside the ball of that radius, so they point into its projection.
    """
    return ball_bounds(front, disk_radius)


def ball_bounds(centre: np.ndarray, radius) -> np.ndarray:
    """(4, ...) image-plane boxes (x0, x1, y0, y1) of balls (centre (..., 3), radius (...)),
    the radius already inflated; +-inf where a ball reaches within :data:`Z_MIN` of the camera
    plane (or behind it)."""
    cx, cy, cz = centre[..., 0], centre[..., 1], centre[..., 2]
    r = np.broadcast_to(np.asarray(radius, np.float64), cz.shape)
    front = cz - r > Z_MIN
    cz = np.where(front, cz, 1.0)
    r = np.where(front, r, 0.0)
    den = 1.0 / (cz * cz - r * r)
    # tangent lines from the camera centre: x/z of the ball spans m -+ e
    mx, my = cx * cz * den, cy * cz * den
    ex = r * np.sqrt(cx * cx + cz * cz - r * r) * den
    ey = r * np.sqrt(cy * cy + cz * cz - r * r) * den
    slack = 1e-9 * (1.0 + np.abs(mx) + np.abs(my) + ex + ey)  # float64 rounding, generously
    out = np.stack([mx - ex - slack, mx + ex + slack, my - ey - slack, my + ey + slack])
    out[:, ~front] = [[-np.inf], [np.inf], [-np.inf], [np.inf]]
    return out


def overlap(bundles: np.ndarray, prims: np.ndarray) -> np.ndarray:
    """(T, J, P) bool: bundle boxes (4, T, J) meet primitive boxes (4, T, P) (closed boxes)."""
    b, p = bundles[..., None], prims[:, :, None, :]
    out = b[0] <= p[1]
    out &= b[1] >= p[0]
    out &= b[2] <= p[3]
    out &= b[3] >= p[2]
    return out
