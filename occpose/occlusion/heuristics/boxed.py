"""The boxed-man occlusion heuristic of Wang et al. (section 4.2); overview in :mod:`.labels`.

Boxed man (section 4.2)
    Each arm and leg segment (upper arms, forearms, thighs, shins) and the head (keypoints 9-10
    in H36M-17) becomes a box A1 A2 B2 B1 around the 2D segment AB, ``delta`` to either side of
    it: A1,2 = A -/+ delta * n with n the unit perpendicular of AB. That is the paper's
    (cos, sin)(arctan(-1/m)), computed directly from the direction vector so that vertical
    (m infinite) and horizontal (m = 0) segments work; a zero-length segment gives an empty box.
    The torso is the region spanned by RHip, LHip, LShoulder, RShoulder (keypoints 1, 4, 11, 14),
    taken as the convex hull of the four points so a twisted or foreshortened torso still gives a
    proper quadrilateral. A joint *strictly* inside a box that is not its own is occluded
    ("If a joint in the boxed man model is located within another joint's boxed segment in 2D
    space, we deem it occluded"). A limb's or the head's own joints are its segment's two end
    joints. The torso's own joints are read two ways (``spine``,
    :class:`~occpose.config.HeuristicsSection` ``boxed_spine``):

    * ``"boxed"`` (the text, the default): its four corners only; the spine joints (Spine,
      Thorax; Hip too when it does not fall exactly on the hip edge) lie inside the torso box
      and are occluded by it.
    * ``"exempt"``: the corners and the joints on the spine (Hip, Spine, Thorax), which lie inside
      it by construction, are the torso's own and never occluded by it.

    Depth-aware variant: a box only counts when its segment is nearer to the camera than the
    joint. A limb's or the head's depth at the joint is the linear interpolation of its end
    depths at the joint's projection onto the 2D segment; the torso's depth is the mean of its
    four corner depths. "Nearer" is strict: z_box < z_joint (camera-frame Z, metres).

The head box uses the same ``delta`` as the limbs (the paper gives one width parameter).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clustered import _chunks


SPINE_READINGS = ("boxed", "exempt")


@dataclass(frozen=True)
class BoxLayout:
    """Which boxes a skeleton layout gets.

    Attributes:
        segments: (joint a, joint b) of each limb/head box, built with half-width delta.
        torso: the four torso corner joints (any order; the hull is used).
        torso_members: joints the torso box never occludes under the ``"exempt"`` reading (its
            corners and spine joints); under ``"boxed"`` only the corners.
    """

    name: str
    segments: tuple[tuple[int, int], ...]
    torso: tuple[int, int, int, int]
    torso_members: tuple[int, ...]

    def members(self, num_joints: int, spine: str = "boxed") -> np.ndarray:
        """(Q, J) bool: box q's own joints, limbs/head first, torso last (``spine``: see the
        module docstring)."""
        if spine not in SPINE_READINGS:
            raise ValueError(f"spine must be one of {SPINE_READINGS}, got {spine!r}")
        m = np.zeros((len(self.segments) + 1, num_joints), dtype=bool)
        for q, (a, b) in enumerate(self.segments):
            m[q, [a, b]] = True
        m[-1, list(self.torso_members if spine == "exempt" else self.torso)] = True
        return m


BOX_LAYOUTS: dict[str, BoxLayout] = {
    # upper arms, forearms, thighs, shins, head (Neck/Nose-Head); torso RHip, LHip, LShoulder, RShoulder
    "h36m17": BoxLayout("h36m17",
                        segments=((11, 12), (12, 13), (14, 15), (15, 16), (1, 2), (2, 3), (4, 5),
                                  (5, 6), (9, 10)),
                        torso=(1, 4, 11, 14), torso_members=(0, 1, 4, 7, 8, 11, 14)),
    # HumanEva-15 has no nose: the head box runs Thorax-Head.
    "humaneva15": BoxLayout("humaneva15",
                            segments=((2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12),
                                      (12, 13), (1, 14)),
                            torso=(11, 8, 2, 5), torso_members=(0, 1, 2, 5, 8, 11)),
}
_LAYOUT_BY_JOINTS = {17: "h36m17", 15: "humaneva15"}


def _layout_for(num_joints: int, layout: BoxLayout | None) -> BoxLayout:
    if layout is not None:
        return layout
    if num_joints not in _LAYOUT_BY_JOINTS:
        raise ValueError(f"no boxed-man layout for {num_joints} joints; pass layout=")
    return BOX_LAYOUTS[_LAYOUT_BY_JOINTS[num_joints]]


def _cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """z component of the 2D cross product, over the last axis."""
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def segment_boxes(a: np.ndarray, b: np.ndarray, delta: float) -> np.ndarray:
    """Boxes A1 A2 B2 B1 (perimeter order) around 2D segments AB.

    Args:
        a, b: (..., 2) segment ends.
        delta: half-width of the box, units of ``a``.
    Returns:
        (..., 4, 2) corners. A1,2 = A -/+ delta * n, B1,2 likewise, n the unit perpendicular
        (-dy, dx) / |AB|: the paper's (cos, sin)(arctan(-1/m)) up to sign, valid for vertical and
        horizontal segments alike. A zero-length segment gives four coincident corners (an empty
        box).
    """
    d = b - a
    length = np.sqrt((d * d).sum(axis=-1, keepdims=True))
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(length > 0, np.stack([-d[..., 1], d[..., 0]], axis=-1) / length, 0.0)
    off = delta * n
    return np.stack([a - off, a + off, b + off, b - off], axis=-2)


def _edge_sides(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(T, Q, J) cross((b - a), (p - a)): > 0 left of the directed line a->b, < 0 right.

    Args: points (T, J, 2); a, b (T, Q, 2). Written as e x p - e x a so that no (T, Q, J, 2)
    temporary is made.
    """
    e = b - a                                                           # (T, Q, 2)
    ex, ey = e[..., 0, None], e[..., 1, None]                           # (T, Q, 1)
    px, py = points[:, None, :, 0], points[:, None, :, 1]               # (T, 1, J)
    return ex * py - ey * px - _cross(e, a)[..., None]


def points_in_convex_quads(points: np.ndarray, quads: np.ndarray) -> np.ndarray:
    """Which points lie strictly inside each convex quadrilateral (cross-product sign test).

    A point is inside when it lies strictly on the same side of all four directed edges, so
    either winding works. A degenerate quad (zero area: all corners collinear or coincident, as
    for the box of a zero-length segment) gives zero cross products and contains no point.

    Args:
        points: (T, J, 2).
        quads: (T, Q, 4, 2) corners in perimeter order (clockwise or counter-clockwise).
    Returns:
        (T, Q, J) bool.
    """
    pos = neg = None
    for i in range(4):
        s = _edge_sides(points, quads[:, :, i], quads[:, :, (i + 1) % 4])
        pos = s > 0 if pos is None else pos & (s > 0)
        neg = s < 0 if neg is None else neg & (s < 0)
    return pos | neg


# The six corner pairs of four points and, for each, the two other corners.
_PAIRS = ((0, 1, 2, 3), (1, 2, 3, 0), (2, 3, 0, 1), (3, 0, 1, 2), (0, 2, 1, 3), (1, 3, 0, 2))


def points_in_hull4(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Which points lie strictly inside the convex hull of four corners given in any order.

    The line through a corner pair is a hull edge when the two other corners lie (weakly) on
    one side of it; the point must lie strictly on that side of every hull edge. For a convex
    quad in perimeter order this equals :func:`points_in_convex_quads`; it also handles a
    self-intersecting order (a twisted torso) and a corner inside the other three's triangle.
    All corners collinear: empty.

    Args:
        points: (T, J, 2).
        corners: (T, Q, 4, 2) in any order.
    Returns:
        (T, Q, J) bool.
    """
    inside = np.ones(corners.shape[:2] + points.shape[1:2], dtype=bool)     # (T, Q, J)
    for i, k, c, d in _PAIRS:
        qa, qb = corners[:, :, i], corners[:, :, k]                     # (T, Q, 2)
        s_c = _cross(qb - qa, corners[:, :, c] - qa)                    # (T, Q)
        s_d = _cross(qb - qa, corners[:, :, d] - qa)
        is_edge = (s_c * s_d >= 0)[..., None]                           # (T, Q, 1)
        side = np.sign(s_c + s_d)[..., None]                            # 0 when all collinear
        inside &= ~is_edge | (_edge_sides(points, qa, qb) * side > 0)
    return inside


def box_hits(joints_2d: np.ndarray, delta: float, layout: BoxLayout | None = None,
             spine: str = "boxed") -> np.ndarray:
    """Boxes containing joints, before any depth rule.

    Args:
        joints_2d: (T, J, 2) normalised screen coordinates.
        delta: boxes' half-width, normalised screen units.
        spine: the torso's own joints, ``"boxed"`` (corners) or ``"exempt"`` (and the spine).
    Returns:
        (T, Q, J) bool: joint strictly inside box q (limb/head boxes in ``layout.segments``
        order, then the torso) and not one of that box's own joints.
    """
    points = np.asarray(joints_2d, dtype=np.float64)
    layout = _layout_for(points.shape[1], layout)
    seg = np.array(layout.segments)                                     # (S, 2)
    boxes = segment_boxes(points[:, seg[:, 0]], points[:, seg[:, 1]], delta)   # (T, S, 4, 2)
    torso = points[:, list(layout.torso)][:, None]                      # (T, 1, 4, 2)
    inside = np.concatenate([points_in_convex_quads(points, boxes),
                             points_in_hull4(points, torso)], axis=1)   # (T, Q, J)
    return inside & ~layout.members(points.shape[1], spine)[None]


def box_depths(joints_2d: np.ndarray, depth: np.ndarray, layout: BoxLayout | None = None) -> np.ndarray:
    """Each box's depth at each joint, for the depth-aware rule.

    Args:
        joints_2d: (T, J, 2) normalised screen coordinates.
        depth: (T, J) camera-frame Z, metres.
    Returns:
        (T, Q, J) metres: a limb's or the head's end depths interpolated linearly at the joint's
        projection onto the 2D segment (clamped to the segment; midpoint for a zero-length
        segment), and the torso's mean corner depth.
    """
    points = np.asarray(joints_2d, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    layout = _layout_for(points.shape[1], layout)
    seg = np.array(layout.segments)
    a, b = points[:, seg[:, 0]], points[:, seg[:, 1]]                   # (T, S, 2)
    d = b - a
    len2 = (d * d).sum(axis=-1)[..., None]                              # (T, S, 1)
    along = (d[..., 0, None] * points[:, None, :, 0] + d[..., 1, None] * points[:, None, :, 1]
             - (d * a).sum(axis=-1)[..., None])                         # (T, S, J): (p - a) . d
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.clip(np.where(len2 > 0, along / len2, 0.5), 0.0, 1.0)    # (T, S, J)
    za, zb = depth[:, seg[:, 0]][..., None], depth[:, seg[:, 1]][..., None]
    limb_z = za + t * (zb - za)                                         # (T, S, J)
    torso_z = depth[:, list(layout.torso)].mean(axis=-1)                # (T,)
    torso_z = np.broadcast_to(torso_z[:, None, None], (depth.shape[0], 1, depth.shape[1]))
    return np.concatenate([limb_z, torso_z], axis=1)


def boxed_occlusion_grid(joints_2d: np.ndarray, deltas, depth: np.ndarray | None = None,
                         layout: BoxLayout | None = None,
                         spine: str = "boxed") -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`boxed_occlusion` for several deltas at once, plain and depth-aware together.

    Returns:
        ``(plain, depth_aware)``: (D, T, J) bool each, one label array per delta in the given
        order; ``depth_aware`` is None when ``depth`` is None.
    """
    points = np.asarray(joints_2d, dtype=np.float64)
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"expected joints_2d (T, J, 2), got {points.shape}")
    layout = _layout_for(points.shape[1], layout)
    if depth is not None:
        depth = np.asarray(depth, dtype=np.float64)
        if depth.shape != points.shape[:2]:
            raise ValueError(f"expected depth (T, J) = {points.shape[:2]}, got {depth.shape}")
    deltas = [float(d) for d in np.atleast_1d(deltas)]
    plain = np.zeros((len(deltas),) + points.shape[:2], dtype=bool)    # (D, T, J)
    aware = np.zeros_like(plain) if depth is not None else None
    for sl in _chunks(points.shape[0]):
        nearer = None
        if depth is not None:
            nearer = box_depths(points[sl], depth[sl], layout) < depth[sl][:, None, :]   # (t, Q, J)
        for i, delta in enumerate(deltas):
            hits = box_hits(points[sl], delta, layout, spine)           # (t, Q, J)
            plain[i, sl] = hits.any(axis=1)
            if nearer is not None:
                aware[i, sl] = (hits & nearer).any(axis=1)
    return plain, aware


def boxed_occlusion(joints_2d: np.ndarray, delta: float, depth: np.ndarray | None = None,
                    layout: BoxLayout | None = None, spine: str = "boxed") -> np.ndarray:
    """The boxed-man heuristic (Wang et al. 4.2), plain or depth-aware.

    Args:
        joints_2d: (T, J, 2) joints in VideoPose3D normalised screen coordinates.
        delta: boxes' half-width, normalised screen units (the image width spans 2).
        depth: (T, J) camera-frame Z in metres. None: the paper's 2D-only rule. Given: a box
            only occludes joints farther than the box (see the module docstring).
        layout: which boxes; default by joint count (17: H36M, 15: HumanEva).
        spine: the torso's own joints, ``"boxed"`` (the text: its corners) or ``"exempt"``
            (corners and spine joints).
    Returns:
        (T, J) bool, True = strictly inside another segment's box (and behind it, with depth).
    """
    plain, aware = boxed_occlusion_grid(joints_2d, [delta], depth, layout, spine)
    return plain[0] if aware is None else aware[0]
