"""Reading a benchmark directory with validation of every file and field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..body import BodyModel
from ..camera import Camera
from ..errors import DatasetError
from ..skeleton import Skeleton, get_skeleton
from .manifest import MANIFEST, SequenceEntry, read_manifest
from .npz import read_npz
from ..configio import is_safe_name
from .paths import check_inside, check_name
from .schema import validate_arrays


@dataclass(eq=False)
class Sequence:
    """One loaded sequence: its manifest entry and its arrays (see ``docs/format.md``)."""

    entry: SequenceEntry
    arrays: dict[str, np.ndarray]
    root: Path

    def __getattr__(self, name: str) -> np.ndarray:
        arrays = self.__dict__.get("arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"sequence {self.__dict__['entry'].id} has no array {name!r}")

    @property
    def id(self) -> str:
        return self.entry.id

    @property
    def n_frames(self) -> int:
        return self.entry.frames

    @property
    def rendered(self) -> np.ndarray:
        """(T,) bool: frames with a rendered PNG (all False in an analytic benchmark)."""
        r = self.arrays.get("rendered")
        return np.zeros(self.n_frames, bool) if r is None else np.asarray(r, bool)

    @property
    def folder(self) -> Path:
        return self.root / "sequences" / self.entry.id

    def occluders(self):
        """The sequence's :class:`~occpose.occlusion.occluders.geometry.OccluderSet` (world frame)."""
        from ..occlusion.occluders.geometry import OccluderSet

        occ = {k: v for k, v in self.arrays.items() if k.startswith("occluder_") and k != "occluder_fraction"}
        if not occ:
            return OccluderSet.empty(self.n_frames)
        return OccluderSet.from_arrays(occ)


class Benchmark:
    """A validated benchmark directory.

    Args:
        root: the directory holding ``manifest.json``.
        verify: check each arrays file's sha256 when it is loaded.
        allow_incomplete: accept a manifest whose status is ``incomplete``.
    """

    def __init__(self, root: str | Path, verify: bool = True, allow_incomplete: bool = False) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.verify = verify
        where = str(self.root / MANIFEST)
        if self.manifest.get("status") != "complete" and not allow_incomplete:
            raise DatasetError(f"{where}: benchmark is incomplete (generation was interrupted); "
                               f"rerun the same generate command to resume it")
        self.entries = [SequenceEntry.from_dict(d, where) if isinstance(d, dict) else
                        _not_an_entry(d, where) for d in self.manifest["sequences"]]
        links: dict = {}
        for i, e in enumerate(self.entries):
            if not (isinstance(e.id, str) and is_safe_name(e.id) and e.id.isascii()):
                check_name(e.id, f"{where}: sequences[{i}]")
            check_inside(self.root, e.path, f"{where}: sequences[{i}] ({e.id})", links=links)
        ids = [e.id for e in self.entries]
        if len(set(ids)) != len(ids):
            raise DatasetError(f"{where}: duplicate sequence ids")
        if self.manifest.get("status") == "complete":
            check_complete(self.manifest, where)
        try:
            self.skeleton: Skeleton = get_skeleton(self.manifest["skeleton"]["name"])
            self.cameras: dict[str, Camera] = {c["name"]: Camera.from_dict(c) for c in self.manifest["cameras"]}
            self.body_models: dict[str, BodyModel] = {
                s: BodyModel.from_dict(d) for s, d in self.manifest["body_models"].items()}
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"{where}: malformed skeleton, cameras or body_models ({e})") from None
        for e in self.entries:
            if e.camera not in self.cameras:
                raise DatasetError(f"{where}: sequence {e.id} uses camera {e.camera!r}, which is not listed")

    @property
    def config(self) -> dict:
        return self.manifest["config"]

    def __len__(self) -> int:
        return len(self.entries)

    def select(self, split: str | None = None, subjects: Iterable[str] | None = None,
               actions: Iterable[str] | None = None, cameras: Iterable[str] | None = None,
               levels: Iterable[float] | None = None) -> list[SequenceEntry]:
        """Entries matching every given filter (None = any)."""
        subjects, actions, cameras = (set(x) if x is not None else None for x in (subjects, actions, cameras))
        levels = {round(float(v), 6) for v in levels} if levels is not None else None
        return [e for e in self.entries
                if (split is None or e.split == split)
                and (subjects is None or e.subject in subjects)
                and (actions is None or e.action in actions)
                and (cameras is None or e.camera in cameras)
                and (levels is None or round(e.target_level, 6) in levels)]

    def entry(self, seq_id: str) -> SequenceEntry:
        for e in self.entries:
            if e.id == seq_id:
                return e
        raise DatasetError(f"{self.root}: no sequence {seq_id!r}")

    def load(self, entry: SequenceEntry | str) -> Sequence:
        """Load and validate one sequence's arrays."""
        if isinstance(entry, str):
            entry = self.entry(entry)
        path = self.root / entry.path
        if not isinstance(entry.frames, int) or isinstance(entry.frames, bool) or entry.frames < 1:
            raise DatasetError(f"{self.root / MANIFEST}: sequence {entry.id}: 'frames' must be a "
                               f"positive integer, got {entry.frames!r}")
        arrays = read_npz(path, entry.sha256 if self.verify else None,
                          max_member_bytes=max_array_bytes(entry.frames))
        validate_arrays(arrays, entry.frames, self.skeleton.num_joints, str(path))
        return Sequence(entry, arrays, self.root)

    def __iter__(self) -> Iterator[Sequence]:
        for e in self.entries:
            yield self.load(e)


def max_array_bytes(frames: int) -> float:
    """The most bytes one array of a ``frames``-frame sequence may unpack to: generous for the
    format (the largest, occluder poses, is (T, primitives, 4, 4) float64), and never more than a
    quarter of the memory available now."""
    from ..sizes import available_memory

    return min(65536.0 * frames + 2 ** 20, available_memory() / 4)


def _not_an_entry(d, where: str):
    raise DatasetError(f"{where}: a sequence entry is {type(d).__name__}, expected an object")


def check_complete(manifest: dict, where: str) -> None:
    """A manifest marked ``complete`` lists exactly the sequences it planned (field ``planned``).

    So an entry deleted from (or added to) a complete manifest is an error instead of a benchmark
    that quietly scores fewer sequences. Manifests written before ``planned`` existed pass.
    """
    want = manifest.get("planned")
    if want is None:
        return
    if not isinstance(want, list):
        raise DatasetError(f"{where}: field 'planned' must be a list of sequence ids")
    have = [d.get("id") for d in manifest["sequences"]]
    if have == want:
        return
    missing = [i for i in want if i not in set(have)]
    extra = [i for i in have if i not in set(want)]

    def some(ids):
        return f"{', '.join(map(str, ids[:3]))}{', ...' if len(ids) > 3 else ''}"

    what = (f"lacks {len(missing)} planned sequence(s): {some(missing)}" if missing else
            f"lists {len(extra)} unplanned sequence(s): {some(extra)}" if extra else
            "lists its sequences out of plan order")
    raise DatasetError(f"{where}: status is 'complete' but the manifest {what}; the file was "
                       f"edited or mixed; rerun the generate command that made it")


def open_benchmark(root: str | Path, verify: bool = True, allow_incomplete: bool = False) -> Benchmark:
    """Open a benchmark directory; raises DatasetError naming the file and field on problems."""
    return Benchmark(root, verify=verify, allow_incomplete=allow_incomplete)
