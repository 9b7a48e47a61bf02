"""The clustered occlusion heuristic of Wang et al. (section 4.1); overview in :mod:`.labels`.

Clustered (section 4.1)
    Joints whose xy distance is below ``epsilon`` are neighbours. Two readings of what a cluster
    is (``clusters``, :class:`~occpose.config.HeuristicsSection` ``clustered_clusters``):

    * ``"neighbours"`` (the text: "for each joint coordinate k_i, we find the set of keypoints
      k_j where [distance] < epsilon ... we add k_i and all keypoints k_j to form a cluster S";
      the default): one cluster per joint i, S_i = {i} and its epsilon-neighbours; in each S_i
      every joint but the nearest to the camera is marked occluded, and a joint is occluded when
      some S_i marks it. Clusters overlap; a joint may be marked by a neighbour's cluster even
      when it is the nearest of its own.
    * ``"chained"``: a cluster is a connected component of the "distance < epsilon" graph
      (single linkage: if A is near B and B is near C, A, B and C form one cluster even when A
      and C are far apart); each cluster has exactly one visible joint.

    In both, "nearest" is the smallest depth, ties going to the lower joint index; a joint with
    no neighbour is a cluster of one and visible. Two spaces:

    * ``"camera"``: xy = camera-frame X, Y in metres (the paper; epsilon = 0.06 m), depth = Z.
    * ``"normalized"``: xy = VideoPose3D normalised screen coordinates of ``joints_2d`` (the image
      width spans 2 units), depth = camera-frame Z in metres.

Vectorised over frames, in blocks of 1024 frames (:func:`_chunks`, also used by the boxed man).
"""

from __future__ import annotations

import numpy as np


_CHUNK = 1024  # frames per block: keeps the (t, J, J) and (t, Q, J) temporaries small and cached


def _chunks(n_frames: int):
    return (slice(s, min(s + _CHUNK, n_frames)) for s in range(0, n_frames, _CHUNK))


def pairwise_distances(points_xy: np.ndarray) -> np.ndarray:
    """(T, J, 2) points -> (T, J, J) Euclidean distances between every pair of joints."""
    x, y = points_xy[..., 0], points_xy[..., 1]
    return np.hypot(x[:, :, None] - x[:, None, :], y[:, :, None] - y[:, None, :])


def clusters_from_distances(distances: np.ndarray, epsilon: float) -> np.ndarray:
    """(T, J, J) distances -> (T, J, J) bool: joints i and j are in the same cluster.

    Clusters are the connected components of the graph ``distance < epsilon`` (each joint is in
    its own cluster). Computed as the transitive closure by repeated squaring of the adjacency
    matrix: after k squarings it joins joints linked by paths of up to 2^k edges.
    """
    n = distances.shape[-1]
    reach = (distances < epsilon) | np.eye(n, dtype=bool)              # (T, J, J)
    for _ in range(int(np.ceil(np.log2(max(n - 1, 2))))):
        r = reach.astype(np.float32)
        nxt = np.matmul(r, r) > 0                                       # paths of double length
        if np.array_equal(nxt, reach):
            break
        reach = nxt
    return reach


def occluded_in_clusters(same_cluster: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(T, J, J) cluster membership, (T, J) depth -> (T, J) bool: not the nearest of its cluster.

    Joints are ordered by (depth, index), so ties in depth go to the lower joint index and every
    cluster has exactly one visible joint.
    """
    n = depth.shape[-1]
    zj, zk = depth[:, :, None], depth[:, None, :]                       # (T, J, 1), (T, 1, J)
    lower_index = np.arange(n)[None, :] < np.arange(n)[:, None]         # [j, k]: k < j
    nearer = (zk < zj) | ((zk == zj) & lower_index)                     # (T, J, J): k before j
    return (same_cluster & nearer).any(axis=-1)


def occluded_in_neighbourhoods(distances: np.ndarray, depth: np.ndarray,
                               epsilon: float) -> np.ndarray:
    """The text's clusters: (T, J, J) distances, (T, J) depth -> (T, J) bool occluded.

    Cluster S_i = {i} and every joint within ``epsilon`` of i; joint j is occluded when it lies
    in some S_i that holds a joint nearer than j (depth, then lower index): every S_i marks all
    its members but its nearest one.
    """
    n = depth.shape[-1]
    member = (distances < epsilon) | np.eye(n, dtype=bool)              # (T, I, J): j in S_i
    order = np.lexsort((np.broadcast_to(np.arange(n), depth.shape), depth), axis=-1)  # (T, J)
    rank = np.argsort(order, axis=-1)                                   # (T, J): 0 = nearest
    big = np.where(member, rank[:, None, :], n)                         # (T, I, J)
    nearest = big.min(axis=-1)                                          # (T, I): rank of S_i's nearest
    return (member & (rank[:, None, :] > nearest[:, :, None])).any(axis=1)


CLUSTERINGS = ("neighbours", "chained")


def _check_xy_depth(points_xy, depth) -> tuple[np.ndarray, np.ndarray]:
    points_xy = np.asarray(points_xy, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    if points_xy.ndim != 3 or points_xy.shape[-1] != 2 or depth.shape != points_xy.shape[:2]:
        raise ValueError(f"expected points_xy (T, J, 2) and depth (T, J), got {points_xy.shape} "
                         f"and {depth.shape}")
    return points_xy, depth


def clustered_occlusion_grid(points_xy: np.ndarray, depth: np.ndarray,
                             epsilons, clusters: str = "neighbours") -> np.ndarray:
    """:func:`clustered_occlusion` for several epsilons at once (distances computed once).

    Returns:
        (E, T, J) bool, one label array per epsilon, in the given order.
    """
    points_xy, depth = _check_xy_depth(points_xy, depth)
    if clusters not in CLUSTERINGS:
        raise ValueError(f"clusters must be one of {CLUSTERINGS}, got {clusters!r}")
    epsilons = [float(e) for e in np.atleast_1d(epsilons)]
    out = np.zeros((len(epsilons),) + depth.shape, dtype=bool)         # (E, T, J)
    for sl in _chunks(depth.shape[0]):
        dist = pairwise_distances(points_xy[sl])                        # (t, J, J)
        for e, eps in enumerate(epsilons):
            if clusters == "chained":
                out[e, sl] = occluded_in_clusters(clusters_from_distances(dist, eps), depth[sl])
            else:
                out[e, sl] = occluded_in_neighbourhoods(dist, depth[sl], eps)
    return out


def clustered_occlusion(points_xy: np.ndarray, depth: np.ndarray, epsilon: float,
                        clusters: str = "neighbours") -> np.ndarray:
    """The clustered heuristic (Wang et al. 4.1).

    Args:
        points_xy: (T, J, 2) joint positions in the plane that measures proximity: camera-frame
            X, Y in metres (``"camera"`` space) or normalised screen coordinates
            (``"normalized"`` space).
        depth: (T, J) camera-frame Z in metres (larger = farther).
        epsilon: neighbour distance, in the units of ``points_xy`` (paper: 0.06 m, camera space).
        clusters: ``"neighbours"`` (the text: a joint and its epsilon-neighbours) or
            ``"chained"`` (connected components); see the module docstring.
    Returns:
        (T, J) bool, True = occluded: a joint some cluster marks (all of a cluster but its
        nearest joint).
    """
    return clustered_occlusion_grid(points_xy, depth, [epsilon], clusters)[0]
