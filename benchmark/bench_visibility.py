"""Throughput of the ray-cast visibility labeller (frames labelled per second).

Usage:
    .venv/bin/python benchmark/bench_visibility.py                  # numpy x1/x2 threads, torch
    .venv/bin/python benchmark/bench_visibility.py --frames 50000 --backends numpy --workers 1
    .venv/bin/python benchmark/bench_visibility.py --no-mesh --rays 9 --chunk 128
    .venv/bin/python benchmark/bench_visibility.py --backends torch --torch-threads 1
    .venv/bin/python benchmark/bench_visibility.py --backends numpy --baseline bde82ff  # old vs new
    .venv/bin/python benchmark/bench_visibility.py --backends numpy --kernels both --sequence 150

Scene: a walking-ish 17-joint subject (S1, 1.75 m) about 4 m in front of the camera with random
yaw, stride, arm swing and position per frame, and four occluders moving slightly per frame: a
box (low wall), a cylinder (pillar), a sphere (ball) and a small mesh (an 80-face icosphere
"rock"). Both body presets (cheng2019, anthropometric: 16 capsules each), K rays per joint.
"frames/s" is the best of ``--repeats`` wall-clock runs; "per CPU-s" divides by the process's
CPU time instead (all its threads), which other processes on a busy machine skew less; the load
average is printed for that reason.

``--kernels`` picks the numpy backend's blocked-ray tests: ``c`` (the native kernels of
``occpose/occlusion/raycast/_rays.c``, when built), ``numpy`` (the numpy kernels,
``OCCPOSE_NATIVE=0``) or ``both`` (a row each, same frames, same run; the labels are the same
bytes and the script checks it). ``--sequence L`` also times the labeller called on L frames
at a time, as generation calls it per sequence (150 frames in the presets), where per-call
costs weigh more.

``--baseline REV`` (default bde82ff, the numpy labeller before the native kernels: float32
numpy kernels, exact first-blocker distances chunk by chunk) also times the numpy
backend of that git revision on the same frames in the same run -- its ``occpose`` package is
extracted with ``git archive`` into a temporary folder and timed in a child process, once before
and once after the current code (best of both, so that a load change during the run does not
favour one side) -- and prints old, new and new/old per body preset and thread count,
wall-clock and per CPU-second. ``--baseline none`` skips it. On a shared machine only the
ratios measured in one run mean something, and the per-CPU-second ones least distorted by
other processes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from occpose import Subject, body_model
from occpose.camera import Camera
from occpose.skeleton import H36M_17
from occpose.subjects import ANKLE_HEIGHT_FRACTION
from occpose.occlusion import (BOX, CYLINDER, MESH, SHAPE_NAMES, SPHERE, MeshData, OccluderSet,
                               VisibilityParams, label_visibility)


def walking_poses(n_frames: int, rng: np.random.Generator, subject: Subject = Subject("S1", 1.75),
                  distance: float = 4.0) -> np.ndarray:
    """(T, 17, 3) camera-frame joints: a subject walking/standing ~``distance`` m ahead.

    Camera 1.6 m above the floor looking horizontally (camera y points down).
    """
    bone = subject.bone_lengths()
    t = n_frames
    phase = rng.uniform(0, 2 * np.pi, t)
    stride = rng.uniform(0.0, 0.6, t)  # leg swing amplitude, radians
    swing = stride * np.sin(phase)
    down = np.array([0.0, 1.0, 0.0])
    # Bone directions in the subject frame (x: subject's left, y: down, z: away from camera
    # when the subject faces the camera).
    d = np.zeros((t, 17, 3))
    d[:, 1] = [-1, 0, 0]
    d[:, 4] = [1, 0, 0]
    for j, s in ((2, swing), (5, -swing)):  # thighs swing in the sagittal plane
        d[:, j] = np.stack([np.zeros(t), np.cos(s), -np.sin(s)], -1)
    for j, s in ((3, swing - 0.4 * stride), (6, -swing - 0.4 * stride)):
        d[:, j] = np.stack([np.zeros(t), np.cos(s), -np.sin(s)], -1)
    d[:, 7] = d[:, 8] = d[:, 10] = -down
    d[:, 9] = [0, -0.95, -0.31]
    d[:, 11], d[:, 14] = [1, 0, 0], [-1, 0, 0]
    arm = rng.uniform(-0.5, 0.5, (t, 2)) + np.stack([-swing, swing], -1)
    abduct = rng.uniform(0.05, 1.4, (t, 2))
    for k, (upper, fore, side) in enumerate(((12, 13, 1.0), (15, 16, -1.0))):
        a, b = arm[:, k], abduct[:, k]
        d[:, upper] = np.stack([side * np.sin(b), np.cos(b) * np.cos(a), np.cos(b) * np.sin(a)], -1)
        bend = rng.uniform(0, 1.8, t)
        d[:, fore] = np.stack([side * np.sin(b), np.cos(b) * np.cos(a + bend),
                               np.cos(b) * np.sin(a + bend)], -1)
    d[:, 1:] /= np.linalg.norm(d[:, 1:], axis=-1, keepdims=True)  # joint 0 (root) has no bone
    local = np.zeros((t, 17, 3))
    parents = H36M_17.parents
    for j in range(1, 17):
        local[:, j] = local[:, parents[j]] + bone[j] * d[:, j]
    yaw = rng.uniform(-np.pi, np.pi, t)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.zeros((t, 3, 3))  # rotation about the camera y axis (vertical)
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1, -s, c
    hip_height = ANKLE_HEIGHT_FRACTION * subject.height + bone[2] + bone[3]
    root = np.stack([rng.uniform(-0.8, 0.8, t), 1.6 - hip_height + rng.uniform(-0.02, 0.02, t),
                     distance + rng.uniform(-1.0, 1.0, t)], -1)
    return np.einsum("tij,tkj->tki", rot, local) + root[:, None]


def icosphere(subdivisions: int = 1) -> MeshData:
    """A unit icosphere (80 faces for one subdivision), procedural."""
    phi = (1 + 5 ** 0.5) / 2
    v = np.array([[-1, phi, 0], [1, phi, 0], [-1, -phi, 0], [1, -phi, 0], [0, -1, phi],
                  [0, 1, phi], [0, -1, -phi], [0, 1, -phi], [phi, 0, -1], [phi, 0, 1],
                  [-phi, 0, -1], [-phi, 0, 1]], float)
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4],
         [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8],
         [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    verts, faces = list(v / np.linalg.norm(v, axis=1, keepdims=True)), f
    for _ in range(subdivisions):
        cache, new = {}, []
        def mid(i, j):
            key = (min(i, j), max(i, j))
            if key not in cache:
                m = verts[i] + verts[j]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = new
    return MeshData("icosphere", np.array(verts), np.array(faces))


def bench_occluders(n_frames: int, rng: np.random.Generator, mesh: bool = True) -> OccluderSet:
    """Box wall, pillar, ball (and a mesh rock) in the camera frame, jittered per frame."""
    shapes = [BOX, CYLINDER, SPHERE] + ([MESH] if mesh else [])
    size = [[0.6, 0.35, 0.05], [0.15, 0.15, 1.2], [0.18, 0.18, 0.18], [0.3, 0.2, 0.25]]
    size = size[:len(shapes)]
    centre = np.array([[0.3, 1.25, 3.0], [-0.6, 0.4, 3.2], [0.2, 1.3, 2.6], [-0.2, 1.4, 2.8]])
    pose = np.tile(np.eye(4), (n_frames, len(shapes), 1, 1))
    # camera y is down: rotate the pillar's local z (its axis) onto the vertical
    pose[:, 1, :3, :3] = [[1, 0, 0], [0, 0, 1], [0, -1, 0]]
    pose[:, :, :3, 3] = centre[:len(shapes)] + rng.normal(0, 0.05, (n_frames, len(shapes), 3))
    return OccluderSet.from_primitives(
        shapes, size, pose, mesh_index=[-1, -1, -1, 0][:len(shapes)],
        meshes=(icosphere(1),) if mesh else ())


REPO = Path(__file__).resolve().parents[1]


def baseline_rates(rev: str, argv: list[str]) -> dict | None:
    """frames/s of the numpy backend at git revision ``rev`` ((preset, workers) -> rate), timed in
    a child process on the same frames; None (with a note) when the revision is not available."""
    try:
        tar = subprocess.run(["git", "-C", str(REPO), "archive", rev, "occpose"], check=True,
                             capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"baseline {rev}: not available ({e}); only the current code is timed")
        return None
    with tempfile.TemporaryDirectory(prefix="occpose-baseline-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            archive.extractall(tmp, filter="data")
        env = dict(os.environ, PYTHONPATH=tmp)
        out = subprocess.run([sys.executable, __file__, *argv, "--backends", "numpy",
                              "--baseline", "none", "--json"], env=env, capture_output=True,
                             text=True)
    if out.returncode:
        print(f"baseline {rev}: failed: {out.stderr.strip().splitlines()[-1:]}")
        return None
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return {(r["preset"], r["device"]): (r["rate"], r["cpu_rate"]) for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--rays", type=int, default=9)
    parser.add_argument("--chunk", type=int, default=None, help="numpy frames per chunk")
    parser.add_argument("--workers", default="1,2", help="numpy thread counts to time")
    parser.add_argument("--backends", default="numpy,torch")
    parser.add_argument("--no-mesh", action="store_true", help="leave out the mesh occluder")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads for the CPU runs (default: torch's own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kernels", default="c", choices=("c", "numpy", "both"),
                        help="numpy backend's ray tests: native C, numpy, or both (a row each)")
    parser.add_argument("--sequence", type=int, default=0,
                        help="also time calls of this many frames each (0: skip)")
    parser.add_argument("--baseline", default="bde82ff",
                        help="git revision timed as 'old' in the same run (none: skip)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # baseline child
    args = parser.parse_args()
    if args.json:
        import occpose

        assert not str(Path(occpose.__file__)).startswith(str(REPO)), "baseline child imports HEAD"

    rng = np.random.default_rng(args.seed)
    camera = Camera("bench", 1000, 1000, 1145.0, 1145.0, 500.0, 500.0, np.eye(3), np.zeros(3))
    joints = walking_poses(args.frames, rng)
    occ = bench_occluders(args.frames, rng, mesh=not args.no_mesh)
    params = VisibilityParams(rays=args.rays)
    torch = None
    runs = []  # (backend, device or workers, keyword arguments)
    from occpose.occlusion.raycast import engine_numpy
    try:
        from occpose.occlusion.raycast import native
    except ImportError:  # a baseline revision from before the native kernels
        native = None

    kernels = {"c": ["c"], "numpy": ["numpy"], "both": ["c", "numpy"]}[args.kernels]
    if args.json:
        kernels = ["c" if native is not None and native.available() else "numpy"]
    elif "c" in kernels and not native.available():
        print("native kernels not built (or OCCPOSE_NATIVE=0): timing the numpy kernels only")
        kernels = ["numpy"]
    for name in args.backends.split(","):
        if name == "numpy":
            for kernel in kernels:
                for w in (int(x) for x in args.workers.split(",")):
                    kw = {"workers": w} | ({"chunk": args.chunk} if args.chunk else {})
                    runs.append((f"numpy/{kernel}" if not args.json else "numpy", f"cpu x{w}",
                                 kw))
        elif name == "torch":
            import torch

            if args.torch_threads:
                torch.set_num_threads(args.torch_threads)
            runs.append(("torch", "cpu", {"device": "cpu"}))
            if torch.cuda.is_available():
                runs.append(("torch", "cuda", {"device": "cuda"}))
    old = None
    if args.baseline != "none" and not args.json:
        keep = [a for a in sys.argv[1:]]
        cleaned, skip = [], False
        for a in keep:  # the child times the numpy backend only, without a baseline
            if skip:
                skip = False
                continue
            if a in ("--backends", "--baseline"):
                skip = True
                continue
            if a.startswith(("--backends=", "--baseline=")):
                continue
            cleaned.append(a)
        old = baseline_rates(args.baseline, cleaned)
    if args.json:
        old = None
    load = [os.getloadavg()[0]]
    rows = []  # (backend, device, preset, rate, cpu_rate, labels)
    lengths = [args.frames] + ([args.sequence] if args.sequence else [])
    pieces = {n: [(joints[s:s + n], occ.select_frames(slice(s, s + n)))
                  for s in range(0, args.frames, n)] for n in lengths}  # sequences, made once

    def label(body, backend, kw, frames):  # the labels, in calls of ``frames`` frames
        parts = [label_visibility(j, body, camera, o, params, backend=backend, **kw)
                 for j, o in pieces[frames]]
        if len(parts) == 1:
            return parts[0]
        return {name: np.concatenate([getattr(p, name) for p in parts])
                for name in ("occluded", "occluded_by_body", "occluded_by_object", "out_of_frame",
                             "visibility")}

    first = {}  # preset -> labels of its first numpy row, to check the others against
    for preset in ("cheng2019", "anthropometric"):
        body = body_model(preset, 1.75)
        for (name, device, kw), frames in ((r, f) for f in lengths for r in runs):
            backend = name.split("/")[0]
            engine_numpy.NATIVE = not name.endswith("/numpy")
            if frames != args.frames:
                device = f"{device} /{frames}"
            label_visibility(joints[:512], body, camera, occ.select_frames(slice(0, 512)), params,
                             backend=backend, **kw)  # warm-up
            best, best_cpu = np.inf, np.inf
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                lab = label(body, backend, kw, frames)
                if device == "cuda":
                    torch.cuda.synchronize()
                best = min(best, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.process_time() - c0)
            lab = lab if isinstance(lab, dict) else lab.to_arrays()
            if backend == "numpy":  # every kernel, thread count and call size: the same bytes
                ref = first.setdefault(preset, lab)
                if any(not np.array_equal(ref[k], lab[k]) for k in ref if k in lab):
                    print(f"WARNING: {name} {device} {preset}: labels differ from the first row")
            if args.json:
                print(json.dumps({"preset": preset, "device": device,
                                  "rate": args.frames / best,
                                  "cpu_rate": args.frames / best_cpu}))
                continue
            rows.append((name, device, preset, args.frames / best, args.frames / best_cpu,
                         lab))
    if args.json:
        return
    load.append(os.getloadavg()[0])
    if old is not None:  # the old code once more, after the new: best of both
        again = baseline_rates(args.baseline, cleaned) or {}
        old = {key: tuple(max(x, y) for x, y in zip(rates, again.get(key, rates)))
               for key, rates in old.items()}
        load.append(os.getloadavg()[0])
    print(f"{args.frames} frames, 17 joints, K={args.rays} rays, 16 capsules, occluders: "
          f"{', '.join(SHAPE_NAMES[int(c)] for c in occ.shape)}; load average (1 min) "
          f"{' -> '.join(f'{x:.2f}' for x in load)} during the run on {os.cpu_count()} CPUs "
          "(absolute rates on a loaded machine are deflated; compare the ratios of one run, "
          "per CPU-s first)")
    print(f"{'backend':13s} {'device':12s} {'body':15s} {'frames/s':>12s} {'per CPU-s':>12s} "
          f"{'occluded':>9s} {'by body':>8s} {'by object':>9s} {'out':>6s}"
          + (f" {'old f/s':>10s} {'new/old':>8s} {'old CPU-s':>10s} {'new/old':>8s}"
             if old else ""))
    for backend, device, preset, rate, cpu_rate, lab in rows:
        ref = (old or {}).get((preset, device)) if backend.startswith("numpy") else None
        cmp = (f" {ref[0]:10,.0f} {rate / ref[0]:8.2f} {ref[1]:10,.0f} {cpu_rate / ref[1]:8.2f}"
               if ref else "")
        print(f"{backend:13s} {device:12s} {preset:15s} {rate:12,.0f} {cpu_rate:12,.0f} "
              f"{lab['occluded'].mean():9.3f} {lab['occluded_by_body'].mean():8.3f} "
              f"{lab['occluded_by_object'].mean():9.3f} {lab['out_of_frame'].mean():6.3f}{cmp}")

if __name__ == "__main__":
    main()
