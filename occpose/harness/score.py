"""Scoring a user's prediction file on a benchmark's test split (``occpose-bench score``).

A prediction file is an ``.npz`` (no pickles) with one array per test sequence id (the ids of
the benchmark's ``manifest.json``, e.g. ``S4_walk_cam0_L030``): shape (T, J, 3), float, metres,
camera frame (x right, y down, z forward), one pose per frame of the sequence, joints in the
benchmark's skeleton order. Absolute poses and root-relative ones are both accepted: scoring
subtracts the root joint (index 0, the pelvis) from prediction and truth before comparing, as
the protocols do, so the global position of a prediction never counts.

The errors go through the code path of ``evaluate`` (:func:`.evaluate.score_predictions`,
:func:`.evaluate.assemble_results`, :func:`.evaluate.write_results`): the same tables, plots and
95% intervals. ``scores.json`` adds a compact, machine-readable summary (:func:`summary`).

Prediction files are untrusted input. Every array header is checked before its data is read
(shape and dtype; nothing larger than the sequence it claims to predict is loaded), object
arrays are refused (``allow_pickle=False``), and every problem is an :class:`OccposeError`
naming the file and the key.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .. import stats
from ..dataset.atomic import atomic_write_text
from ..dataset.npz import sha256_file
from ..errors import OccposeError
from .data import prepare, skeleton_for
from .evaluate import (METRICS, SPLITS, UNITS, RunEval, SequenceLayout, _sample_frames,
                       assemble_results, score_predictions, test_axes, write_results)
from .settings import RunSettings

__all__ = ["SCORES_FORMAT", "read_predictions", "score", "score_files", "summary", "level_key"]

SCORES_FORMAT = "occpose-scores/1"


def level_key(level: float) -> str:
    """A level as the manifest writes it (JSON of the float): ``0.3`` -> ``"0.3"``."""
    return json.dumps(float(level))


def _header(z: zipfile.ZipFile, member: str, path: Path, key: str) -> tuple[tuple, np.dtype]:
    """(shape, dtype) of one .npy member, read from its header only."""
    try:
        with z.open(member) as f:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read is None:
                raise ValueError(f"npy format version {version} is not supported")
            shape, _, dtype = read(f)
    except (ValueError, OSError, zipfile.BadZipFile, zlib.error, EOFError, SyntaxError) as e:
        raise OccposeError(f"{path}: key {key!r} is not a readable .npy array ({e})") from None
    return shape, dtype


def read_predictions(path: str | Path, expected: dict[str, tuple[int, int]],
                     other_ids: set[str] = frozenset()) -> dict[str, np.ndarray]:
    """Read and check a prediction file.

    Args:
        path: the ``.npz``.
        expected: test sequence id -> (frames, joints).
        other_ids: ids of the benchmark's other sequences (named in the error for those).
    Returns:
        id -> (T, J, 3) float64 metres, for the ids the file holds (a subset of ``expected``).
    Raises:
        OccposeError: naming the file and the key.
    """
    path = Path(path)
    if not path.is_file():
        raise OccposeError(f"{path}: prediction file not found")
    if not zipfile.is_zipfile(path):
        raise OccposeError(f"{path}: not an .npz archive (expected np.savez output: one array per "
                           f"test sequence id)")
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as z:
            for member in z.namelist():
                key = member[:-4] if member.endswith(".npy") else member
                if not member.endswith(".npy"):
                    raise OccposeError(f"{path}: member {member!r} is not a .npy array")
                if key not in expected:
                    if key in other_ids:
                        raise OccposeError(f"{path}: key {key!r} is a sequence of the train split; "
                                           f"predictions are scored on the test split only")
                    raise OccposeError(f"{path}: key {key!r} is not a test sequence id of the "
                                       f"benchmark (ids look like {next(iter(expected))!r})")
                shape, dtype = _header(z, member, path, key)
                t, j = expected[key]
                if dtype.hasobject:
                    raise OccposeError(f"{path}: key {key!r} holds pickled Python objects; expected "
                                       f"a float array (T, J, 3) (pickles are never loaded)")
                if dtype.kind != "f":
                    raise OccposeError(f"{path}: key {key!r} has dtype {dtype}; expected float "
                                       f"(T, J, 3) metres")
                if len(shape) != 3 or shape[2] != 3:
                    raise OccposeError(f"{path}: key {key!r} has shape {tuple(shape)}; expected "
                                       f"(T, J, 3) = ({t}, {j}, 3): frames, joints, xyz metres")
                if shape[1] != j:
                    raise OccposeError(f"{path}: key {key!r} has {shape[1]} joints; the benchmark's "
                                       f"skeleton has {j} (shape ({t}, {j}, 3) expected)")
                if shape[0] != t:
                    raise OccposeError(f"{path}: key {key!r} has {shape[0]} frames; the sequence has "
                                       f"{t} (shape ({t}, {j}, 3) expected)")
                with z.open(member) as f:
                    arr = np.lib.format.read_array(f, allow_pickle=False)
                bad = ~np.isfinite(arr).all(axis=-1)
                if bad.any():
                    ft, fj = np.argwhere(bad)[0]
                    raise OccposeError(f"{path}: key {key!r} holds NaN or inf (first at frame {ft}, "
                                       f"joint {fj})")
                out[key] = arr.astype(np.float64)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        raise OccposeError(f"{path}: truncated or corrupt .npz ({type(e).__name__}: {e})") from None
    return out


def _entry(cell: dict) -> dict:
    return {"mm": cell["mean"], "ci95": [cell["ci_low"], cell["ci_high"]]}


def summary(results: dict, level_keys: dict[str, str], name: str, compare: str | None = None) -> dict:
    """The compact ``scores.json`` body of one scored model (and its comparison).

    ``overall.mpjpe_mm`` and ``by_level["<level>"].mpjpe_mm`` (manifest level keys), each metric
    with ``<metric>_ci95`` ([low, high], 95% bootstrap over test sequences), and ``splits`` with
    the same for every joint subset.
    """
    model = results["models"][name]

    def block(lv: str) -> dict:
        d = {}
        for m in METRICS:
            cell = model["by_level"][lv][m]["all"]
            d[f"{m}_{UNITS[m].replace('/', '_per_')}"] = cell["mean"]
            d[f"{m}_ci95"] = [cell["ci_low"], cell["ci_high"]]
        d["splits"] = {s: {f"{m}_{UNITS[m].replace('/', '_per_')}": model["by_level"][lv][m][s]["mean"]
                           for m in METRICS} | {f"{m}_ci95": [model["by_level"][lv][m][s]["ci_low"],
                                                              model["by_level"][lv][m][s]["ci_high"]]
                                                 for m in METRICS}
                       for s in SPLITS if s != "all"}
        return d

    out = {"overall": block("all"),
           "by_level": {level_keys[lv]: block(lv) for lv in results["levels"] if lv != "all"}}
    if compare is not None:
        diff = results["differences"][name]
        keys = {**level_keys, "all": "all"}
        out["compare"] = {"minus": compare, "metric": "mpjpe", "split": "all", "by_level": {
            keys[lv]: {"difference_mm": d["mpjpe"]["all"]["estimate"],
                       "ci95": [d["mpjpe"]["all"]["ci_low"], d["mpjpe"]["all"]["ci_high"]],
                       "significant": d["mpjpe"]["all"]["significant"],
                       "verdict": d["mpjpe"]["all"]["verdict"]}
            for lv, d in diff["by_level"].items()}}
    return out


def score_files(sequences_test, predictions: str | Path, out_dir: str | Path, *,
                name: str | None = None, compare: str | Path | None = None,
                allow_partial: bool = False, other_ids: set[str] = frozenset(),
                plots: bool = True, n_boot: int = stats.N_BOOTSTRAP,
                boot_seed: int = stats.BOOTSTRAP_SEED, data: str = "") -> dict:
    """Score a prediction file (and optionally compare it with a second one) on test sequences.

    Writes ``results.json``, ``results.csv``, ``report.md``, the plots and ``scores.json`` into
    ``out_dir`` (atomically). Returns the ``scores.json`` content.

    Args:
        sequences_test: the benchmark's test split (PoseSequences).
        predictions: prediction file A (module docstring).
        name: A's label (default: the file's stem).
        compare: prediction file B: per level the paired difference A - B with its interval.
        allow_partial: score only the sequences A holds (B must hold them too); the report says
            so on top. Without it a missing sequence is an error.
        other_ids: ids of the benchmark's non-test sequences (for the error message).
    """
    if not sequences_test:
        raise OccposeError("no test sequences (is the data's test split empty?)")
    sequences = sorted(sequences_test, key=lambda s: s.id)
    expected = {s.id: s.joints_3d_cam.shape[:2] for s in sequences}
    files = [Path(predictions)] + ([Path(compare)] if compare is not None else [])
    preds = [read_predictions(f, expected, set(other_ids)) for f in files]
    present = set(preds[0])
    missing = [s.id for s in sequences if s.id not in present]
    if missing and not allow_partial:
        raise OccposeError(f"{files[0]}: no predictions for {len(missing)} of {len(sequences)} test "
                           f"sequences (first: key {missing[0]!r}); pass --allow-partial to score "
                           f"the others")
    if not present:
        raise OccposeError(f"{files[0]}: holds no test sequence")
    for f, p in zip(files[1:], preds[1:]):
        lacking = sorted(present - set(p))
        if lacking:
            raise OccposeError(f"{f}: no predictions for key {lacking[0]!r}, which {files[0]} "
                               f"holds ({len(lacking)} such); --compare needs the same sequences")
    scored = [s for s in sequences if s.id in present]
    num_joints = scored[0].joints_3d_cam.shape[1]
    skeleton = skeleton_for(num_joints)
    prepared = prepare(scored, RunSettings(model="tcn", keypoints2d="exact"))
    levels, actions, axes = test_axes(scored, skeleton)
    layout = SequenceLayout.of(prepared, levels, actions)
    picks = _sample_frames(prepared)
    labels = [name or files[0].stem]
    if compare is not None:
        b = files[1].stem
        labels.append(b if b != labels[0] else f"{b} (B)")
    evals = []
    for f, p, lab in zip(files, preds, labels):
        cube, samples = score_predictions((p[s.id] for s in scored), prepared, picks)
        evals.append(RunEval(cube, samples, {"run": str(f), "seed": 0, "sha256": sha256_file(f),
                                             "sequences": len(scored)}))
    header = {"source": "predictions", "flip": False, "sequences": len(scored), "device": "cpu",
              "frames": int(sum(s.n_frames for s in scored))}
    if missing:
        header["partial"] = {"scored": len(scored), "expected": len(sequences), "missing": missing}
    results, cubes = assemble_results(evals, labels, axes, header, layout, n_boot=n_boot,
                                      boot_seed=boot_seed, reference=1 if compare is not None else 0)
    title = f"occpose score: {labels[0]}" + (f" vs {labels[1]}" if compare is not None else "")
    write_results(results, cubes, evals, labels, axes, out_dir, plots=plots,
                  truth=[prepared[si].poses[f] for si, f in picks], skeleton=skeleton, title=title)
    level_keys = {lv: level_key(v) for lv, v in zip(axes["levels"], levels)}
    scores = {"format": SCORES_FORMAT, "name": labels[0], "predictions": str(files[0]),
              "predictions_sha256": evals[0].info["sha256"], "data": str(data),
              "sequences": len(scored), "expected_sequences": len(sequences),
              "partial": bool(missing), "missing": missing,
              "root_aligned": "the root joint (index 0) is subtracted from prediction and truth",
              "units": {m: UNITS[m] for m in METRICS}, "intervals": results["intervals"],
              **summary(results, level_keys, labels[0], labels[1] if compare is not None else None)}
    if compare is not None:
        scores["compare"]["predictions"] = str(files[1])
        scores["compare"]["predictions_sha256"] = evals[1].info["sha256"]
    atomic_write_text(Path(out_dir) / "scores.json", json.dumps(scores, indent=1) + "\n")
    return scores


def score(data: str | Path, predictions: str | Path, out_dir: str | Path, **kw) -> dict:
    """Score a prediction file on the test split of the benchmark directory ``data``.

    Keyword arguments as :func:`score_files` (``name``, ``compare``, ``allow_partial``, ``plots``,
    ``n_boot``, ``boot_seed``). Returns the ``scores.json`` content.
    """
    from .loading import load_sequences, split_sequences

    if not Path(data).is_dir():
        raise OccposeError(f"--data {data}: not a benchmark directory")
    sequences = load_sequences(data)
    others = {s.id for s in sequences if s.split != "test"}
    return score_files(split_sequences(sequences, "test"), predictions, out_dir, other_ids=others,
                       data=str(data), **kw)
