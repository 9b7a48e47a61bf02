"""``manifest.json``: what a benchmark directory holds and how it was made."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import DatasetError
from .atomic import atomic_write_text
from .jsonio import read_json_object
from .schema import FORMAT

MANIFEST = "manifest.json"


def sequence_id(subject: str, action: str, camera: str, level: float) -> str:
    """``S1_walk_cam0_L030``: subject, action, camera and the target level in percent."""
    return f"{subject}_{action}_{camera}_L{round(level * 100):03d}"


def frame_path(seq_id: str, frame: int) -> str:
    """A rendered frame's PNG, relative to the benchmark root (the Blender backend's layout)."""
    return f"sequences/{seq_id}/frames/{int(frame):06d}.png"


@dataclass
class SequenceEntry:
    """One sequence's line in the manifest.

    Attributes:
        id: unique id, see :func:`sequence_id`.
        split: ``"train"`` or ``"test"`` (from the preset's subject lists).
        target_level: the requested mean occluder_fraction.
        achieved_level: the measured mean occluder_fraction (ray casts).
        self_occlusion: mean fraction of joints hidden by the body.
        path: arrays file, relative to the benchmark root.
        sha256: of the arrays file.
        backend: ``"analytic"`` or ``"blender"``.
        extra: backend-specific summary (rendered frame count, mask-based level, ...).
        config_sha256: of the configuration the sequence was made from (a resumed or merged
            benchmark never mixes sequences of two configurations).
    """

    id: str
    subject: str
    action: str
    camera: str
    split: str
    target_level: float
    frames: int
    path: str
    sha256: str
    achieved_level: float = 0.0
    self_occlusion: float = 0.0
    backend: str = "analytic"
    extra: dict = field(default_factory=dict)
    config_sha256: str = ""

    @classmethod
    def from_dict(cls, d: dict, file: str) -> "SequenceEntry":
        try:
            return cls(**d)
        except TypeError as e:
            raise DatasetError(f"{file}: malformed sequence entry {d.get('id', '?')!r} ({e})") from None

    def to_dict(self) -> dict:
        return asdict(self)


def software_versions() -> dict:
    import numpy

    from .. import __version__

    return {"occpose": __version__, "numpy": numpy.__version__, "python": platform.python_version()}


def write_manifest(root: Path, manifest: dict) -> None:
    atomic_write_text(root / MANIFEST, json.dumps(manifest, indent=1, sort_keys=False) + "\n")


def read_manifest(root: Path) -> dict:
    """Parse and check the manifest's top level; DatasetError names the file and the field."""
    path = Path(root) / MANIFEST
    manifest = read_json_object(path, f"not found; is {root} an occpose benchmark directory?",
                                fmt=FORMAT)
    for key in ("config", "config_sha256", "seed", "skeleton", "cameras", "body_models", "sequences"):
        if key not in manifest:
            raise DatasetError(f"{path}: missing field '{key}'")
    if not isinstance(manifest["sequences"], list):
        raise DatasetError(f"{path}: field 'sequences' must be a list")
    return manifest


def stored_section(bench_dir: str | Path, name: str) -> dict:
    """The raw ``[name]`` table of the preset a benchmark was made from ({} if none, or if the
    directory holds no manifest)."""
    if not (Path(bench_dir) / MANIFEST).is_file():
        return {}
    return dict(read_manifest(Path(bench_dir)).get("config", {}).get(name) or {})
