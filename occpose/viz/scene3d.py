"""3D overview of a sequence with matplotlib (Agg, no pyplot state): the skeleton at a few time
steps along its path, the floor, the camera and the occluders. World frame, metres, Z up."""

from __future__ import annotations

import numpy as np

from ..camera import camera_to_world
from .frames import BOX_CORNERS, surface_points


def _camera_frustum(camera, depth: float = 0.6) -> np.ndarray:
    """(4, 3) world points: the image corners at ``depth`` metres in front of the camera."""
    corners = np.array([[0, 0], [camera.width, 0], [camera.width, camera.height], [0, camera.height]], float)
    xy = (corners - [camera.cx, camera.cy]) / [camera.fx, camera.fy]
    cam = np.concatenate([xy * depth, np.full((4, 1), depth)], axis=1)
    return camera_to_world(cam, camera)


def _draw_occluders(ax, occluders, frames) -> list[np.ndarray]:
    """Occluders at the given frames (once if they do not move); returns the points drawn."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    from ..occlusion.occluders.geometry import BOX

    drawn, pts = [], []
    faces = [[0, 1, 3, 2], [4, 5, 7, 6], [0, 1, 5, 4], [2, 3, 7, 6], [0, 2, 6, 4], [1, 3, 7, 5]]
    for f in frames:
        pose = occluders.pose[f]
        if drawn and np.allclose(pose, occluders.pose[drawn[-1]]):
            continue
        drawn.append(f)
        alpha = 0.35 if len(drawn) == 1 else 0.12
        for i in range(occluders.num_primitives):
            color = occluders.color[i]
            rot, t = pose[i, :3, :3], pose[i, :3, 3]
            if int(occluders.shape[i]) == BOX:
                c = (BOX_CORNERS * occluders.size[i]) @ rot.T + t
                ax.add_collection3d(Poly3DCollection([c[q] for q in faces], facecolor=color, alpha=alpha,
                                                     edgecolor=color * 0.5, linewidth=0.6))
                pts.append(c)
            else:
                p = surface_points(occluders, i) @ rot.T + t
                ax.scatter(*p.T, s=2, color=color, alpha=alpha * 2, depthshade=False)
                pts.append(p)
    return pts


def plot_sequence_3d(joints_world, skeleton, camera=None, occluders=None, steps: int = 5,
                     title: str | None = None, figsize=(7.0, 6.0)):
    """A matplotlib Figure of a sequence.

    Args:
        joints_world: (T, J, 3) metres, world frame (Z up).
        camera: an occpose Camera (drawn as a dot with its viewing frustum), optional.
        occluders: an OccluderSet (world frame), optional.
        steps: how many time steps to draw (evenly spaced, coloured early -> late).
    Returns:
        ``matplotlib.figure.Figure``; save it with ``fig.savefig(path)``.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    joints = np.asarray(joints_world, dtype=np.float64)
    t = joints.shape[0]
    frames = np.unique(np.linspace(0, t - 1, max(1, steps)).round().astype(int))
    fig = Figure(figsize=figsize)
    ax = fig.add_subplot(projection="3d")
    cmap = colormaps["viridis"]
    pts = [joints.reshape(-1, 3)]
    ax.plot(*joints[:, 0].T, color="0.4", lw=1, ls="--", label="root path")
    for k, f in enumerate(frames):
        color = cmap(k / max(1, len(frames) - 1))
        for p, c in skeleton.bones:
            ax.plot(*joints[f, [p, c]].T, color=color, lw=2)
        ax.scatter(*joints[f].T, color=color, s=6, depthshade=False)
        if k in (0, len(frames) - 1):
            top = joints[f, np.argmax(joints[f, :, 2])]
            ax.text(*top + [0, 0, 0.15], f"t={f}", fontsize=7, color=color)
    if occluders is not None and occluders.num_primitives:
        pts += _draw_occluders(ax, occluders, frames)
    if camera is not None:
        c = np.asarray(camera.position, dtype=np.float64)
        fr = _camera_frustum(camera)
        for corner in fr:
            ax.plot(*np.stack([c, corner]).T, color="tab:blue", lw=0.8)
        ax.plot(*np.concatenate([fr, fr[:1]]).T, color="tab:blue", lw=0.8)
        ax.scatter(*c, color="tab:blue", s=30, marker="^", depthshade=False)
        ax.text(*c + [0, 0, 0.15], camera.name, color="tab:blue", fontsize=8)
        pts.append(np.stack([c, *fr]))
    allp = np.concatenate(pts)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    lo[2], hi[2] = 0.0, max(hi[2], 0.1)
    margin = 0.3
    fx, fy = np.meshgrid([lo[0] - margin, hi[0] + margin], [lo[1] - margin, hi[1] + margin])
    ax.plot_surface(fx, fy, np.zeros_like(fx), color="0.85", alpha=0.4, shade=False)
    lo, hi = lo - [margin, margin, 0], hi + [margin, margin, 0.1]
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_zlim(lo[2], hi[2])
    ax.set_box_aspect(hi - lo)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_zlabel("z (m)")
    ax.view_init(elev=22, azim=-60)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
