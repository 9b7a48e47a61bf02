"""Writing a benchmark directory: atomic, resumable, refusing to mix configurations.

Layout (see ``docs/format.md``)::

    manifest.json
    sequences/<id>/arrays.npz   per-frame arrays
    sequences/<id>/entry.json   the sequence's manifest entry, written after arrays.npz

A sequence is complete when its ``entry.json`` exists and its arrays file matches the recorded
sha256; a rerun skips complete sequences. ``manifest.json`` is written at the start (status
``incomplete``) and rewritten when all planned sequences are done (status ``complete``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ..config import Config
from ..errors import DatasetError
from ..skeleton import get_skeleton
from .atomic import atomic_write_text, remove_stale_temporaries
from .manifest import MANIFEST, SequenceEntry, read_manifest, software_versions, write_manifest
from .npz import sha256_file, write_npz
from .schema import FORMAT, validate_arrays


class BenchmarkWriter:
    """Writes sequences of one configuration into ``root``.

    Args:
        root: output directory (created if missing).
        config: the resolved preset; its sha256 guards the directory.
        overwrite: replace a benchmark made from a different configuration.
        backend: ``"analytic"`` or ``"blender"``, recorded in the manifest.
    """

    def __init__(self, root: str | Path, config: Config, overwrite: bool = False,
                 backend: str = "analytic", extra: dict | None = None) -> None:
        self.root = Path(root)
        self.config = config
        self.backend = backend
        self.extra = dict(extra or {})
        self._prepare(overwrite)

    # -- set-up ----------------------------------------------------------------------------
    def _prepare(self, overwrite: bool) -> None:
        root = self.root
        if root.exists() and not root.is_dir():
            raise DatasetError(f"{root}: exists and is not a directory")
        manifest_path = root / MANIFEST
        seq_dir = root / "sequences"
        if manifest_path.exists():
            try:
                old = read_manifest(root)
                same = old["config_sha256"] == self.config.sha256()
            except DatasetError:
                same = False
            if not same:
                if not overwrite:
                    raise DatasetError(
                        f"{root}: holds a benchmark made from a different configuration (or an "
                        f"unreadable manifest); use another --out or pass --overwrite to replace it")
                self._wipe()
        elif seq_dir.exists() and any(seq_dir.iterdir()):
            if not overwrite:
                raise DatasetError(f"{root}: has a sequences/ folder but no {MANIFEST}; use another "
                                   f"--out or pass --overwrite to replace it")
            self._wipe()
        seq_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(root)
        if not manifest_path.exists():
            write_manifest(root, self._manifest([], "incomplete"))

    def _wipe(self) -> None:
        shutil.rmtree(self.root / "sequences", ignore_errors=True)
        (self.root / MANIFEST).unlink(missing_ok=True)

    def _manifest(self, entries: list[SequenceEntry], status: str) -> dict:
        cfg = self.config
        skeleton = get_skeleton(cfg.benchmark.skeleton)
        return {
            "format": FORMAT,
            "status": status,
            "name": cfg.benchmark.name,
            "seed": cfg.benchmark.seed,
            "backend": self.backend,
            "config": cfg.to_dict(),
            "config_sha256": cfg.sha256(),
            "skeleton": skeleton.to_dict(),
            "body_models": {s: cfg.body_model(s).to_dict() for s in sorted(cfg.subjects)},
            "cameras": [c.to_dict() for c in cfg.camera_objects()],
            "visibility": {"rays": cfg.visibility.rays, "disk_fraction": cfg.visibility.disk_fraction,
                           "tolerance": cfg.visibility.tolerance},
            "software": software_versions(),
            **self.extra,
            "sequences": [e.to_dict() for e in entries],
        }

    # -- sequences -------------------------------------------------------------------------
    def sequence_dir(self, seq_id: str) -> Path:
        return self.root / "sequences" / seq_id

    def completed_entry(self, seq_id: str) -> SequenceEntry | None:
        """The entry of a complete sequence (arrays present and matching), else None."""
        entry_path = self.sequence_dir(seq_id) / "entry.json"
        if not entry_path.is_file():
            return None
        try:
            entry = SequenceEntry.from_dict(json.loads(entry_path.read_text("utf-8")), str(entry_path))
        except (json.JSONDecodeError, DatasetError, UnicodeDecodeError):
            return None
        arrays = self.root / entry.path
        if not arrays.is_file() or sha256_file(arrays) != entry.sha256:
            return None
        return entry

    def write_sequence(self, entry: SequenceEntry, arrays: dict[str, np.ndarray]) -> SequenceEntry:
        """Validate and atomically write one sequence; fills in path, sha256 and frames."""
        n_joints = get_skeleton(self.config.benchmark.skeleton).num_joints
        rel = f"sequences/{entry.id}/arrays.npz"
        validate_arrays(arrays, entry.frames, n_joints, rel)
        entry.path = rel
        entry.backend = self.backend
        entry.sha256 = write_npz(self.root / rel, arrays)
        atomic_write_text(self.sequence_dir(entry.id) / "entry.json",
                          json.dumps(entry.to_dict(), indent=1) + "\n")
        return entry

    def finalize(self, planned_ids: list[str]) -> dict:
        """Write the manifest listing ``planned_ids`` in order; status ``complete`` if all exist."""
        entries = [e for e in (self.completed_entry(i) for i in planned_ids) if e is not None]
        status = "complete" if len(entries) == len(planned_ids) else "incomplete"
        manifest = self._manifest(entries, status)
        write_manifest(self.root, manifest)
        return manifest
