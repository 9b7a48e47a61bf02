"""User occluder meshes: files listed in ``[occluders] meshes`` loaded into :class:`MeshData`.

A mesh file (OBJ, PLY, GLB/GLTF, STL, OFF) is read with trimesh (imported here, lazily), checked
(readable, triangles present, finite, not flat, not too many triangles) and normalised into the
occluder object frame: Z up (``up = "y"`` turns a Y-up file), centred on its bounding box in x and
y, standing on z = 0, largest extent 1 -- so an occluder's ``size`` (s, s, s) is its largest
extent in metres. The sha256 of the file's bytes is recorded in :attr:`MeshData.sha256`.
Every problem is a :class:`~occpose.errors.ConfigError` naming the file.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from .geometry import MeshData

SUFFIXES = (".obj", ".ply", ".glb", ".gltf", ".stl", ".off")
_Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # (x, y, z) -> (x, -z, y)


def resolve_mesh_path(name: str, base_dir: str | Path | None = None) -> Path:
    """The file a ``meshes`` entry names: absolute as given, else relative to ``base_dir``
    (the preset's folder; the working directory when None)."""
    path = Path(name).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    return path


def load_user_meshes(names, base_dir: str | Path | None = None, up: str = "z",
                     max_faces: int = 5000) -> tuple[MeshData, ...]:
    """Load the ``[occluders] meshes`` files (cached per file content) in the listed order."""
    out = []
    for name in names:
        path = resolve_mesh_path(name, base_dir)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ConfigError(f"{path}: occluder mesh file not found (listed in 'occluders.meshes'; "
                              "relative paths are relative to the preset's folder)") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot read occluder mesh file ({e})") from None
        out.append(_load_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns, up, max_faces))
    return tuple(out)


@lru_cache(maxsize=32)
def _load_cached(path: str, size: int, mtime_ns: int, up: str, max_faces: int) -> MeshData:
    return load_user_mesh(path, up, max_faces)


def load_user_mesh(path: str | Path, up: str = "z", max_faces: int = 5000) -> MeshData:
    """Read one mesh file and normalise it (see the module docstring).

    Raises:
        ConfigError: missing, unreadable, empty, non-finite, flat or too large meshes, naming
            the file and what was expected.
    """
    path = Path(path)
    expected = "expected a non-empty triangle mesh (OBJ, PLY, GLB/GLTF, STL or OFF)"
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"{path}: unsupported occluder mesh format {path.suffix!r}; {expected}")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: occluder mesh file not found") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read occluder mesh file ({e})") from None
    vertices, faces = _parse(path, data, expected)
    if not len(faces) or not len(vertices):
        raise ConfigError(f"{path}: occluder mesh holds no triangles; {expected}")
    if not np.isfinite(vertices).all():
        raise ConfigError(f"{path}: occluder mesh has non-finite vertex coordinates; {expected} "
                          "with finite coordinates")
    if len(faces) > max_faces:
        raise ConfigError(f"{path}: occluder mesh has {len(faces)} triangles, more than "
                          f"'occluders.mesh_max_faces' = {max_faces}; simplify it or raise the limit")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ConfigError(f"{path}: occluder mesh has face indices outside its {len(vertices)} "
                          f"vertices; {expected}")
    used = vertices[np.unique(faces)]
    if up == "y":
        used, vertices = used @ _Y_UP_TO_Z_UP.T, vertices @ _Y_UP_TO_Z_UP.T
    lo, hi = used.min(axis=0), used.max(axis=0)
    extent = float((hi - lo).max())
    if not extent > 1e-9 or np.sort(hi - lo)[1] <= 1e-6 * extent:
        raise ConfigError(f"{path}: occluder mesh is degenerate (extent {np.round(hi - lo, 9).tolist()}); "
                          "expected a solid with non-zero size in at least two directions")
    offset = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
    vertices = (vertices - offset) / extent  # (V, 3) largest extent 1, on z = 0
    return MeshData(name=path.stem, vertices=vertices, faces=faces,
                    sha256=hashlib.sha256(data).hexdigest())


def _parse(path: Path, data: bytes, expected: str) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) float64 vertices and (F, 3) int64 faces of a mesh file's bytes (scenes merged)."""
    try:
        import trimesh
    except ImportError:
        raise ConfigError(f"{path}: loading occluder meshes needs trimesh "
                          "(pip install trimesh)") from None
    try:
        mesh = trimesh.load(io.BytesIO(data), file_type=path.suffix.lower()[1:], force="mesh",
                            process=False)
    except Exception as e:  # trimesh raises many kinds of errors on corrupt files
        raise ConfigError(f"{path}: cannot parse occluder mesh ({type(e).__name__}: {e}); "
                          f"{expected}") from None
    vertices = np.asarray(getattr(mesh, "vertices", np.zeros((0, 3))), dtype=np.float64)
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[-1] != 3 or faces.ndim != 2 or faces.shape[-1] != 3:
        return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    return vertices, faces
