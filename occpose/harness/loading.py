"""Loading pose sequences for the harness: benchmark directories or VideoPose3D data.

``--data`` may be:

* a benchmark directory (``manifest.json``);
* a pose bundle ``.npz`` written by ``occpose-bench convert videopose3d`` (pickle-free);
* a VideoPose3D ``data_3d_<name>.npz``, read with
  :func:`occpose.interop.videopose3d.load_videopose3d` (pickled: needs ``trust_pickle``; and a
  camera JSON, optionally its ``data_2d`` file and an occpose ``data_occlusion`` file).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..dataset.poses import PoseSequence
from ..errors import DatasetError, OccposeError

__all__ = ["load_sequences", "split_sequences"]


def _is_pose_bundle(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return "index.npy" in z.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def load_sequences(data_arg: str | Path, trust_pickle: bool = False, *, data_2d=None,
                   cameras=None, occlusion=None) -> list[PoseSequence]:
    """All sequences of a benchmark directory, a pose bundle or VideoPose3D files.

    Args:
        data_arg: a benchmark directory or a ``.npz`` file (module docstring).
        trust_pickle: allow the pickled dicts of VideoPose3D archives (only files you trust).
        data_2d, cameras, occlusion: VideoPose3D only, passed to ``load_videopose3d``.
    Raises:
        DatasetError / OccposeError: missing or malformed data.
    """
    path = Path(data_arg)
    if path.is_dir():
        from ..dataset import open_benchmark
        from ..dataset.poses import from_benchmark

        return from_benchmark(open_benchmark(path))
    if path.is_file() and path.suffix == ".npz":
        try:
            from ..interop import videopose3d as vp3d
        except ImportError as e:
            raise OccposeError(f"{path}: VideoPose3D import is not available ({e})") from None
        if _is_pose_bundle(path):
            return vp3d.load_pose_bundle(path)
        return vp3d.load_videopose3d(path, data_2d=data_2d, cameras=cameras,
                                     trust_pickle=trust_pickle, occlusion=occlusion)
    if not path.exists():
        raise DatasetError(f"{path}: not found; expected a benchmark directory or a .npz file")
    raise DatasetError(f"{path}: expected a benchmark directory or a .npz file")


def split_sequences(sequences: list[PoseSequence], split: str) -> list[PoseSequence]:
    """The sequences of one split (``train``/``test``), in a stable order (by id)."""
    return sorted((s for s in sequences if s.split == split), key=lambda s: s.id)
