"""The visibility labels of :mod:`.visibility`, computed with torch on any device.

Same definition, same ray pattern, same formulas as the numpy backend (rays cast from the
camera centre, float32 per ray-primitive pair with the cancellation-free forms of
:mod:`.camera_rays`), but dense: every (frame, primitive, ray) entry distance is computed and
the first blocker of every ray comes from float32 distances. Frames go in large batches with no
per-frame Python and no host synchronisation until the counts come back; meshes are tested by
brute force over their triangles (fine for small meshes). The out-of-frame test runs on the host
with :func:`occpose.camera.project_to_2d` (lens distortion included).

Agreement with the numpy backend is up to float rounding: a ray whose first blocker is decided by
a distance difference below ~1e-6 m, or which grazes a primitive within that distance of its
stopping point, can differ.
"""

from __future__ import annotations

import numpy as np

from ..occluders.geometry import BOX, CAPSULE, CYLINDER, MESH, SPHERE, OccluderSet
from .primitives import PARITY_DIRECTIONS

INF = float("inf")
NAN = float("nan")


def default_device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def label_visibility_torch(joints_cam: np.ndarray, body, camera, occ: OccluderSet | None,
                           params, device=None, batch: int | None = None):
    """Torch backend of :func:`~occpose.occlusion.raycast.visibility.label_visibility` (same arguments).

    Args:
        occ: occluders in the camera frame with one pose per frame (or None).
        device: torch device (default CUDA when available, else CPU).
        batch: frames per batch (default: as many as fit ~8 GB of work arrays on CUDA,
            ~250 MB on CPU).
    """
    import torch

    from .visibility import (OTHER_TOLERANCE, disk_pattern, labels_from_counts, out_of_frame_mask,
                             own_tolerance)

    device = torch.device(device) if device is not None else default_device()
    n_t, n_j, k = joints_cam.shape[0], joints_cam.shape[1], params.rays
    if batch is None:  # frames whose float32 work arrays fit a memory budget
        n_tri = sum(len(occ.meshes[int(occ.mesh_index[i])].faces)
                    for i in np.flatnonzero(occ.shape == MESH)) if occ is not None else 0
        n_prim = len(body.segments) + (occ.num_primitives if occ is not None else 0)
        per_frame = 4 * n_j * k * (24 * n_prim + 10 * n_tri)  # bytes, all temporaries
        budget = 8e9 if device.type == "cuda" else 2.5e8
        batch = int(np.clip(budget // per_frame, 64, 65536))
    f64 = dict(device=device, dtype=torch.float64)
    joints = torch.as_tensor(joints_cam, **f64)
    consts = {
        "joint_radius": torch.as_tensor(body.joint_radius, **f64),
        "offsets": torch.as_tensor(disk_pattern(params)[None] * body.joint_radius[:, None, None],
                                   **f64),  # (J, K, 2)
        "seg_a": torch.as_tensor(body.seg_a, device=device),
        "seg_b": torch.as_tensor(body.seg_b, device=device),
        "radius": torch.as_tensor(body.radii, **f64),
        "tol": torch.as_tensor(np.repeat(own_tolerance(body, params).T, k, axis=1),
                               device=device, dtype=torch.float32),  # (S, R)
        "other_tol": OTHER_TOLERANCE,
    }
    occ_t = _occluders_to_device(occ, device)
    n_blocked = torch.empty((n_t, n_j), device=device, dtype=torch.int32)
    n_object = torch.empty((n_t, n_j), device=device, dtype=torch.int32)
    with torch.no_grad():
        for start in range(0, n_t, batch):
            sl = slice(start, min(start + batch, n_t))
            occ_b = None if occ_t is None else {**occ_t, "pose": occ_t["pose"][sl]}
            n_blocked[sl], n_object[sl] = _batch_counts(joints[sl], consts, occ_b, k)
    return labels_from_counts(n_blocked.cpu().numpy(), n_object.cpu().numpy(), k,
                              out_of_frame_mask(joints_cam, camera))


def _occluders_to_device(occ: OccluderSet | None, device) -> dict | None:
    import torch

    if occ is None or occ.num_primitives == 0:
        return None
    out = {"pose": torch.as_tensor(occ.pose, device=device, dtype=torch.float64),
           "shape": occ.shape.copy(), "size": torch.as_tensor(occ.size, device=device,
                                                              dtype=torch.float64),
           "index": {code: torch.as_tensor(np.flatnonzero(occ.shape == code), device=device)
                     for code in (BOX, SPHERE, CAPSULE, CYLINDER)}}
    out["meshes"] = {int(i): torch.as_tensor(occ.mesh_triangles(i), device=device,
                                             dtype=torch.float64)
                     for i in np.flatnonzero(occ.shape == MESH)}
    out["parity_dirs"] = torch.as_tensor(PARITY_DIRECTIONS, device=device,
                                         dtype=torch.float64)  # inside test of meshes
    return out


# --------------------------------------------------------------------------------- one batch
def _batch_counts(joints, consts: dict, occ: dict | None, k: int):
    """(B, J) int32 blocked-ray counts and first-blocked-by-object counts for B frames."""
    import torch

    n_b, n_j = joints.shape[:2]
    w, length = _ray_directions(joints, consts["joint_radius"], consts["offsets"])  # (B,3,R)
    a = joints[:, consts["seg_a"]]
    b = joints[:, consts["seg_b"]]
    stop = length[:, None] - consts["tol"]  # (B, S, R)
    t = capsule_entry(w, a, b, consts["radius"])  # (B, S, R)
    t_body = torch.where(t < stop, t, INF).amin(dim=1)  # first body blocker (B, R)
    if occ is None:
        t_obj = torch.full_like(t_body, INF)
    else:
        t = occluder_entry(w, occ)  # (B, O, R)
        t_obj = torch.where(t < (length - consts["other_tol"])[:, None], t, INF).amin(dim=1)
    blocked = (t_body < INF) | (t_obj < INF)
    object_first = (t_obj < INF) & (t_obj <= t_body)
    return (blocked.view(n_b, n_j, k).sum(-1, dtype=torch.int32),
            object_first.view(n_b, n_j, k).sum(-1, dtype=torch.int32))


def _ray_directions(joints, joint_radius, offsets):
    """Unit directions (B, 3, R) float32 and lengths (B, R) float32 of the sample rays."""
    import torch

    dist = joints.norm(dim=-1, keepdim=True)  # (B, J, 1)
    u = joints / torch.where(dist > 0, dist, torch.ones_like(dist))
    front = joints - joint_radius[:, None] * u
    e1 = torch.stack([u[..., 2], torch.zeros_like(u[..., 0]), -u[..., 0]], dim=-1)  # y x u
    e1_norm = e1.norm(dim=-1, keepdim=True)
    x_axis = torch.zeros_like(e1)
    x_axis[..., 0] = 1.0
    e1 = torch.where(e1_norm > 1e-12, e1 / e1_norm.clamp_min(1e-12), x_axis)
    e2 = torch.linalg.cross(u, e1, dim=-1)
    targets = (front[:, :, None] + offsets[None, ..., 0, None] * e1[:, :, None]
               + offsets[None, ..., 1, None] * e2[:, :, None])  # (B, J, K, 3)
    targets = targets.reshape(joints.shape[0], -1, 3)
    length = targets.norm(dim=-1)  # (B, R)
    w = targets / torch.where(length > 0, length, torch.ones_like(length))[..., None]
    return w.transpose(1, 2).to(torch.float32).contiguous(), length.to(torch.float32)


# ------------------------------------------------------------------------- entry distances
def _dot(x, y):
    return (x * y).sum(-1)


def _perp_basis(c):
    """Two vectors orthogonal to c (..., 3) and to each other, both of length |c|."""
    import torch

    length = c.norm(dim=-1)
    cx, cy, cz = c.unbind(-1)
    zero = torch.zeros_like(cx)
    use_x = (cx.abs() < 0.6 * length)[..., None]
    q1 = torch.where(use_x, torch.stack([zero, cz, -cy], -1), torch.stack([-cz, zero, cx], -1))
    q1 = q1 * (length / q1.norm(dim=-1).clamp_min(1e-300))[..., None]
    q2 = torch.linalg.cross(c, q1, dim=-1) / length.clamp_min(1e-300)[..., None]
    return q1, q2


def _sqrt(h):
    """sqrt(h), NaN where h < 0 (computed without feeding negatives to sqrt, which is slow on
    some CPUs)."""
    import torch

    return torch.where(h >= 0, torch.sqrt(h.clamp_min(0.0)), NAN)


def _ball_entry(wc, wq1, wq2, r2):
    """Entry distance w.c - sqrt(r^2 - |w x c|^2) into balls, +inf when missed or behind."""
    import torch

    t = wc - _sqrt(r2 - (wq1 * wq1 + wq2 * wq2))
    return torch.where(t >= 0, t, INF)  # NaN (miss) fails the comparison


def capsule_entry(w, a, b, radius):
    """(B, P, R) float32 entry distances of rays w (B, 3, R) into capsules a-b (B, P, 3)."""
    import torch

    ba = b - a
    length = ba.norm(dim=-1)
    axis = ba / torch.where(length > 0, length, torch.ones_like(length))[..., None]
    a_axis = _dot(a, axis)
    a_perp = a - a_axis[..., None] * axis
    r2 = (radius ** 2).expand_as(length)
    cyl_c = _dot(a_perp, a_perp) - r2
    inside = ((_dot(a, a) <= r2) | (_dot(b, b) <= r2)
              | ((cyl_c <= 0) & (a_axis <= 0) & (a_axis + length >= 0)))
    qa1, qa2 = _perp_basis(a)
    qb1, qb2 = _perp_basis(b)
    cols = torch.stack([axis, a_perp, torch.linalg.cross(a, axis, dim=-1), a, qa1, qa2, b, qb1,
                        qb2]).to(torch.float32)
    dn, lat, wm, wa, wqa1, wqa2, wb, wqb1, wqb2 = torch.matmul(cols, w)  # (B, P, R) each
    c, lo, ln, r2_32 = (x.to(torch.float32)[..., None] for x in (cyl_c, a_axis, length, r2))
    t1 = c / (lat + _sqrt((1 - dn * dn) * r2_32 - wm * wm))  # lateral entry (see numpy)
    axial = t1 * dn - lo
    t = torch.where((t1 >= 0) & (axial >= 0) & (axial < ln), t1, INF)
    t = torch.minimum(t, _ball_entry(wa, wqa1, wqa2, r2_32))
    t = torch.minimum(t, _ball_entry(wb, wqb1, wqb2, r2_32))
    return torch.where(inside[..., None], 0.0, t)


def ball_entry(w, centre, radius):
    """(B, P, R) entry distances into balls of centre (B, P, 3) and radius (P,)."""
    import torch

    r2 = (radius ** 2).expand(centre.shape[:-1])
    q1, q2 = _perp_basis(centre)
    wc, wq1, wq2 = torch.matmul(torch.stack([centre, q1, q2]).to(torch.float32), w)
    t = _ball_entry(wc, wq1, wq2, r2.to(torch.float32)[..., None])
    return torch.where((_dot(centre, centre) <= r2)[..., None], 0.0, t)


def box_entry(w, rotation, centre, half):
    """(B, P, R) entry distances into oriented boxes (slab test); rotation (B, P, 3, 3)."""
    import torch

    origin = -torch.einsum("bpji,bpj->bpi", rotation, centre)  # camera centre, box frame
    lo = (-half - origin).to(torch.float32)[..., None]  # (B, P, 3, 1)
    hi = (half - origin).to(torch.float32)[..., None]
    d = torch.einsum("bpji,bjr->bpir", rotation.to(torch.float32), w)  # (B, P, 3, R)
    inv = 1.0 / d
    ta, tb = lo * inv, hi * inv
    enter = torch.minimum(ta, tb).amax(dim=2).clamp_min(0.0)
    leave = torch.maximum(ta, tb).amin(dim=2)
    return torch.where(enter <= leave, enter, INF)


def cylinder_entry(w, a, b, radius):
    """(B, P, R) entry distances into flat-capped cylinders of axis a-b (B, P, 3)."""
    import torch

    ba = b - a
    length = ba.norm(dim=-1)
    axis = ba / length[..., None]
    a_axis = _dot(a, axis)
    a_perp = a - a_axis[..., None] * axis
    r2 = (radius ** 2).expand_as(length)
    cols = torch.stack([axis, a_perp, torch.linalg.cross(a, axis, dim=-1)]).to(torch.float32)
    dn, lat, wm = torch.matmul(cols, w)
    c, lo, hi, r2_32 = (x.to(torch.float32)[..., None]
                        for x in (_dot(a_perp, a_perp) - r2, a_axis, a_axis + length, r2))
    quad_a = 1 - dn * dn
    sq = lat + _sqrt(quad_a * r2_32 - wm * wm)
    inv = 1.0 / dn
    sa, sb = lo * inv, hi * inv
    enter = torch.maximum(c / sq, torch.fmin(sa, sb)).clamp_min(0.0)  # NaN stays NaN
    leave = torch.fmin(sq / quad_a, torch.fmax(sa, sb))
    return torch.where(enter <= leave, enter, INF)


def mesh_entry(w, triangles, pose, parity_dirs):
    """(B, R) entry distances into a closed mesh: object-frame triangles (F, 3, 3), pose
    (B, 4, 4) object-to-camera. Brute force over triangles (Plucker test in the camera frame,
    where every ray starts at the origin); a camera inside the mesh gives 0 (parity of the
    crossings along the three ``parity_dirs`` (3, 3), majority vote)."""
    import torch

    rot, trans = pose[:, :3, :3], pose[:, :3, 3]
    tri = torch.einsum("bij,fkj->bfki", rot, triangles) + trans[:, None, None]  # (B, F, 3, 3)
    edge = torch.roll(tri, -1, dims=2) - tri
    moment = torch.linalg.cross(tri, edge, dim=-1)  # (B, F, 3, 3): d . (p x e) per edge
    normal = torch.linalg.cross(edge[:, :, 0], -edge[:, :, 2], dim=-1)  # (B, F, 3)
    plane = _dot(normal, tri[:, :, 0])  # n . v0
    n_f = tri.shape[1]
    cols = torch.cat([moment.transpose(1, 2).reshape(-1, 3 * n_f, 3), normal], dim=1)
    prod = torch.matmul(cols.to(torch.float32), w)  # (B, 4F, R)
    edges, nd = prod.view(prod.shape[0], 4, n_f, -1).split([3, 1], dim=1)  # (B, 3|1, F, R)
    crosses = (edges.amin(dim=1) >= 0) | (edges.amax(dim=1) <= 0)  # all three share a sign
    t = plane.to(torch.float32)[..., None] / nd[:, 0]
    t = torch.where(crosses & (t >= 0), t, INF).amin(dim=1)  # (B, R); nd = 0 gives inf or NaN
    inside = _origin_inside(moment, normal, plane, parity_dirs)
    return torch.where(inside[:, None], 0.0, t)


def _origin_inside(moment, normal, plane, dirs):
    """(B,) bool: the camera centre lies inside the closed mesh (majority of three parities)."""
    import torch

    s = torch.einsum("bfei,di->bdfe", moment, dirs)  # (B, 3 dirs, F, 3 edges)
    nd = torch.einsum("bfi,di->bdf", normal, dirs)
    crosses = (s >= 0).all(-1) | (s <= 0).all(-1)
    t = plane[:, None] / nd
    count = (crosses & (nd != 0) & (t > 0)).sum(-1) % 2  # (B, 3)
    return count.sum(-1) >= 2


def occluder_entry(w, occ: dict):
    """(B, O, R) entry distances into every occluder primitive (batch of poses ``occ``)."""
    import torch

    pose, size, shape = occ["pose"], occ["size"], occ["shape"]
    out = torch.empty((w.shape[0], len(shape), w.shape[2]), device=w.device, dtype=torch.float32)
    for code in (BOX, SPHERE, CAPSULE, CYLINDER):
        idx = occ["index"][code]  # on the device: indexing with it needs no host copy
        if not len(idx):
            continue
        p, s = pose[:, idx], size[idx]
        if code == BOX:
            out[:, idx] = box_entry(w, p[..., :3, :3], p[..., :3, 3], s)
        elif code == SPHERE:
            out[:, idx] = ball_entry(w, p[..., :3, 3], s[:, 0])
        else:
            axis = p[..., :3, 2] * s[:, 2, None]
            a, b = p[..., :3, 3] - axis, p[..., :3, 3] + axis
            out[:, idx] = (capsule_entry if code == CAPSULE else cylinder_entry)(w, a, b, s[:, 0])
    for i, triangles in occ["meshes"].items():
        out[:, i] = mesh_entry(w, triangles, pose[:, i], occ["parity_dirs"])
    return out
