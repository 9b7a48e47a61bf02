"""Deterministic, pickle-free ``.npz`` files.

``numpy.savez`` stamps the current time into every zip member, so the same arrays give
different bytes on every run. :func:`write_npz` writes members in the given order with a fixed
timestamp and fixed compression, so the same arrays always give the same bytes (and sha256).
:func:`read_npz` never unpickles.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .atomic import atomic_path

_EPOCH = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray], compress: bool = True) -> bytes:
    """Serialise arrays to deterministic npz bytes (object arrays are refused)."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method, compresslevel=6 if compress else None) as zf:
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            if arr.dtype.hasobject:
                raise TypeError(f"array {name!r} has dtype object; pickles are not allowed")
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = method
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], compress: bool = True) -> str:
    """Atomically write ``arrays`` to ``path``; returns the file's sha256 hex digest."""
    data = npz_bytes(arrays, compress)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_npz(path: str | Path, expected_sha256: str | None = None,
             max_member_bytes: float | None = None) -> dict[str, np.ndarray]:
    """Load every array of an npz file without unpickling.

    Args:
        max_member_bytes: refuse (before reading any array) a member whose uncompressed size in
            the zip directory exceeds this: a small file of zeros can claim gigabytes.
    Raises:
        DatasetError: naming the file when it is missing, truncated, corrupt, pickled, too large,
            or its sha256 differs from ``expected_sha256``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: arrays file is missing")
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise DatasetError(f"{path}: sha256 {actual[:12]}... does not match the manifest's "
                               f"{expected_sha256[:12]}... (file changed or corrupt)")
    if max_member_bytes is not None:
        _check_member_sizes(path, max_member_bytes)
    try:
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise DatasetError(f"{path}: holds pickled objects, which occpose does not load "
                               f"from data files") from None
        raise DatasetError(f"{path}: corrupt npz ({e})") from None
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, KeyError) as e:
        raise DatasetError(f"{path}: truncated or corrupt npz ({type(e).__name__}: {e})") from None


def _check_member_sizes(path: Path, limit: float) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(f"{path}: truncated or corrupt npz ({type(e).__name__}: {e})") from None
    for info in infos:
        if info.file_size > limit:
            raise DatasetError(f"{path}: member {info.filename!r} unpacks to {info.file_size} bytes, "
                               f"more than the {int(limit)} a sequence of this length can need; "
                               f"refusing to load it")
