"""Writing a benchmark directory: atomic, resumable, refusing to mix configurations.

Layout (see ``docs/format.md``)::

    manifest.json
    sequences/<id>/arrays.npz   per-frame arrays
    sequences/<id>/entry.json   the sequence's manifest entry, written after arrays.npz

A sequence is complete when its ``entry.json`` exists, was made from this configuration
(``config_sha256``) and its arrays file matches the recorded sha256; a rerun skips complete
sequences and redoes foreign ones. ``manifest.json`` is written at the start (status
``incomplete``) and rewritten when all planned sequences are done (status ``complete``, the
planned ids in ``planned``). While a writer is open it holds ``DIR/.occpose.lock``
(:mod:`occpose.dataset.lock`), so two commands never write one folder at once.
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
from .lock import FolderLock
from .manifest import MANIFEST, SequenceEntry, read_manifest, software_versions, write_manifest
from .npz import sha256_file, write_npz
from .paths import check_name, check_no_escaping_link, inside
from .schema import FORMAT, validate_arrays


class BenchmarkWriter:
    """Writes sequences of one configuration into ``root``.

    Args:
        root: output directory (created if missing).
        config: the resolved preset; its sha256 guards the directory.
        overwrite: replace a benchmark made from a different configuration (its ``reports/``
            too).
        backend: ``"analytic"`` or ``"blender"``, recorded in the manifest.
        command: who holds the folder lock (shown to a second writer).

    The folder lock is released by :meth:`finalize` or :meth:`close` (also a context manager).
    """

    def __init__(self, root: str | Path, config: Config, overwrite: bool = False,
                 backend: str = "analytic", extra: dict | None = None,
                 command: str = "occpose-bench generate") -> None:
        self.root = Path(root)
        self.config = config
        self.config_sha256 = config.sha256()
        self.backend = backend
        self.extra = dict(extra or {})
        if self.root.exists() and not self.root.is_dir():
            raise DatasetError(f"{self.root}: exists and is not a directory")
        self.lock = FolderLock(self.root, command)
        try:
            self._prepare(overwrite)
        except BaseException:
            self.lock.release()
            raise

    def close(self) -> None:
        """Release the folder lock (idempotent)."""
        self.lock.release()

    def __enter__(self) -> "BenchmarkWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- set-up ----------------------------------------------------------------------------
    def _prepare(self, overwrite: bool) -> None:
        root = self.root
        if root.exists() and not root.is_dir():
            raise DatasetError(f"{root}: exists and is not a directory")
        manifest_path = root / MANIFEST
        seq_dir = root / "sequences"
        for name in ("sequences", MANIFEST, "reports"):
            check_no_escaping_link(root, root / name)
        if manifest_path.exists():
            try:
                old = read_manifest(root)
                same = old["config_sha256"] == self.config_sha256
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
        """Remove the old benchmark (--overwrite): manifest first, so a crash midway leaves a
        folder without a manifest, which is never mistaken for a whole benchmark."""
        (self.root / MANIFEST).unlink(missing_ok=True)
        for name in ("sequences", "reports"):
            shutil.rmtree(self.root / name, ignore_errors=True)

    def _manifest(self, entries: list[SequenceEntry], status: str,
                  planned: list[str] | None = None) -> dict:
        cfg = self.config
        skeleton = get_skeleton(cfg.benchmark.skeleton)
        return {
            "format": FORMAT,
            "status": status,
            "name": cfg.benchmark.name,
            "seed": cfg.benchmark.seed,
            "backend": self.backend,
            "config": cfg.to_dict(),
            "config_sha256": self.config_sha256,
            "skeleton": skeleton.to_dict(),
            "body_models": {s: cfg.body_model(s).to_dict() for s in sorted(cfg.subjects)},
            "cameras": [c.to_dict() for c in cfg.camera_objects()],
            "visibility": {"rays": cfg.visibility.rays, "disk_fraction": cfg.visibility.disk_fraction,
                           "tolerance": cfg.visibility.tolerance},
            "software": software_versions(),
            **self.extra,
            "sequences": [e.to_dict() for e in entries],
            **({"planned": planned} if planned is not None else {}),
        }

    # -- sequences -------------------------------------------------------------------------
    def sequence_dir(self, seq_id: str) -> Path:
        check_name(seq_id, str(self.root / "sequences"))
        path = self.root / "sequences" / seq_id
        check_no_escaping_link(self.root, path)
        return path

    def completed_entry(self, seq_id: str) -> SequenceEntry | None:
        """The entry of a complete sequence of this configuration (arrays present and
        matching), else None (a foreign, damaged or unsafe one is then redone)."""
        entry_path = self.sequence_dir(seq_id) / "entry.json"
        return read_entry(self.root, entry_path, seq_id, self.config_sha256)

    def write_sequence(self, entry: SequenceEntry, arrays: dict[str, np.ndarray]) -> SequenceEntry:
        """Validate and atomically write one sequence; fills in path, sha256 and frames."""
        n_joints = get_skeleton(self.config.benchmark.skeleton).num_joints
        rel = f"sequences/{entry.id}/arrays.npz"
        self.sequence_dir(entry.id)
        validate_arrays(arrays, entry.frames, n_joints, rel)
        entry.path = rel
        entry.backend = self.backend
        entry.config_sha256 = self.config_sha256
        entry.sha256 = write_npz(self.root / rel, arrays)
        atomic_write_text(self.sequence_dir(entry.id) / "entry.json",
                          json.dumps(entry.to_dict(), indent=1) + "\n")
        return entry

    def finalize(self, planned_ids: list[str]) -> dict:
        """Write the manifest listing ``planned_ids`` in order; status ``complete`` if all exist."""
        entries = [e for e in (self.completed_entry(i) for i in planned_ids) if e is not None]
        status = "complete" if len(entries) == len(planned_ids) else "incomplete"
        manifest = self._manifest(entries, status, list(planned_ids))
        write_manifest(self.root, manifest)
        self.close()
        return manifest


def read_entry(root: Path, entry_path: Path, seq_id: str | None = None,
               config_sha256: str | None = None) -> SequenceEntry | None:
    """A sequence's ``entry.json`` if it is whole and trustworthy, else None.

    Whole: parses, names ``seq_id`` (its folder), its arrays ``path`` stays inside ``root`` and the
    file there matches ``sha256``; of this configuration when ``config_sha256`` is given.
    """
    if not entry_path.is_file():
        return None
    try:
        data = json.loads(entry_path.read_text("utf-8"))
        if not isinstance(data, dict):
            return None
        entry = SequenceEntry.from_dict(data, str(entry_path))
        check_name(entry.id, str(entry_path))
        arrays = inside(root, entry.path, str(entry_path))
    except (json.JSONDecodeError, DatasetError, UnicodeDecodeError, OSError):
        return None
    if seq_id is not None and entry.id != seq_id:
        return None
    if entry.path != f"sequences/{entry.id}/arrays.npz":  # another sequence's arrays: not ours
        return None
    if config_sha256 is not None and entry.config_sha256 != config_sha256:
        return None
    if not arrays.is_file() or sha256_file(arrays) != entry.sha256:
        return None
    return entry
