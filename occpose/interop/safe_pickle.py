"""Reading pickled ``.npz`` files (VideoPose3D's format) without running arbitrary code.

VideoPose3D stores nested dicts of arrays with ``np.savez``, so its files are pickles, and a
pickle can call any importable function while it loads. occpose therefore

1. refuses a pickled member unless the caller passes ``trust_pickle=True`` (``--trust-pickle``);
2. even then unpickles with :class:`RestrictedUnpickler`, whose ``find_class`` resolves only the
   few names that numpy arrays and builtin containers need (an allow-list mapped to objects, so
   no module is ever imported on the file's behalf); anything else is a
   :class:`UnsafePickleError` naming the file, the member and the refused global.

Plain (non-object) members are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import DatasetError

PICKLE_REFUSED = ("holds pickled Python objects, which can run arbitrary code when loaded; "
                  "pass --trust-pickle (trust_pickle=True) only for files from a source you trust "
                  "(occpose then still allows only numpy arrays and builtin containers)")


class UnsafePickleError(DatasetError):
    """A pickle that refers to a global outside the allow-list."""


def _latin1_encode(obj, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as Python 2 pickles of bytes use it; only latin-1 is accepted."""
    if encoding not in ("latin1", "latin-1") or not isinstance(obj, str):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r} is not allowed")
    return obj.encode("latin1", errors)


def _allowed() -> dict[tuple[str, str], object]:
    import builtins
    from collections import OrderedDict

    # The reconstruction functions themselves, found without naming numpy's private modules.
    reconstruct = np.ndarray(0).__reduce__()[0]
    scalar = np.float32(0).__reduce__()[0]
    frombuffer = np.arange(2).__reduce_ex__(5)[0]
    table = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("collections", "OrderedDict"): OrderedDict,
        ("_codecs", "encode"): _latin1_encode,
    }
    for core in ("numpy.core", "numpy._core"):  # numpy 1.x and 2.x module names
        table[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        table[(f"{core}.multiarray", "scalar")] = scalar
        table[(f"{core}.numeric", "_frombuffer")] = frombuffer
    for name in ("set", "frozenset", "complex", "bytearray", "slice"):
        table[("builtins", name)] = getattr(builtins, name)
        table[("__builtin__", name)] = table[("builtins", name)]
    return table


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy array/dtype/scalar reconstruction and builtins.

    Args:
        file: binary file positioned at the pickle.
        where: ``"file: member"`` for error messages.
    """

    ALLOWED = _allowed()

    def __init__(self, file, where: str = "<pickle>") -> None:
        super().__init__(file, encoding="latin1")
        self.where = where

    def find_class(self, module: str, name: str):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.where}: pickle refers to {module}.{name}, which is not allowed (only numpy "
                f"arrays, dtypes and builtin containers may appear); refusing to load") from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self.where}: pickle uses persistent ids; refusing to load")


def restricted_loads(data: bytes, where: str = "<pickle>"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler`."""
    return RestrictedUnpickler(io.BytesIO(data), where).load()


def _read_header(fp, where: str):
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fp)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(fp)
    if version == (3, 0):
        return np.lib.format._read_array_header(fp, version)
    raise DatasetError(f"{where}: unsupported .npy format version {version}")


def read_member(zf: zipfile.ZipFile, member: str, where: str, trust_pickle: bool):
    """One ``.npy`` member of an open npz: a plain array, or the unpickled object of a 0-d
    object array (``.item()``), or an object ndarray."""
    raw = zf.read(member)
    fp = io.BytesIO(raw)
    shape, _, dtype = _read_header(fp, where)
    if not dtype.hasobject:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    if not trust_pickle:
        raise DatasetError(f"{where} {PICKLE_REFUSED}")
    arr = RestrictedUnpickler(fp, where).load()
    if not isinstance(arr, np.ndarray):
        raise DatasetError(f"{where}: pickled member is a {type(arr).__name__}, expected an array")
    if arr.shape != tuple(shape):
        raise DatasetError(f"{where}: pickled array has shape {arr.shape}, header says {shape}")
    return arr.item() if arr.shape == () else arr


def load_npz(path: str | Path, trust_pickle: bool = False, keys: tuple[str, ...] | None = None) -> dict:
    """Members of an npz file by name (without ``.npy``), pickles read safely.

    Args:
        keys: members that must be present (others present are read too).
    Raises:
        DatasetError: missing, truncated or corrupt file; missing key; a pickled member without
            ``trust_pickle``; :class:`UnsafePickleError` for a disallowed global.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    where = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n[:-4]: n for n in zf.namelist() if n.endswith(".npy")}
            for k in keys or ():
                if k not in names:
                    raise DatasetError(f"{path}: missing key {k!r} (has {', '.join(sorted(names)) or 'none'})")
            return {k: read_member(zf, n, f"{where}: {k!r}", trust_pickle) for k, n in names.items()}
    except DatasetError:
        raise
    except (zipfile.BadZipFile, EOFError, zlib.error, struct.error, pickle.UnpicklingError,
            ValueError, TypeError, AttributeError, IndexError, OSError) as e:
        raise DatasetError(f"{path}: truncated or corrupt npz ({type(e).__name__}: {e})") from None
