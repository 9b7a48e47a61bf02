"""A tiny deterministic PNG writer (numpy + zlib; Blender's Python has no Pillow)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np


def png_bytes(image: np.ndarray) -> bytes:
    """(H, W) or (H, W, 3) uint8 -> PNG bytes (8-bit grey or RGB, no metadata)."""
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"expected (H, W) or (H, W, 3) uint8, got {img.shape} {img.dtype}")
    h, w = img.shape[:2]
    color_type = 0 if img.ndim == 2 else 2
    rows = img.reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 3))
            + chunk(b"IEND", b""))


TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt", b"tIME")


def without_text(data: bytes) -> bytes:
    """PNG bytes without text and time chunks (Cycles writes render times into every PNG)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    out, i = [data[:8]], 8
    while i + 8 <= len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        if data[i + 4:i + 8] not in TEXT_CHUNKS:
            out.append(data[i:i + 12 + n])
        i += 12 + n
    return b"".join(out)


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write ``image`` (see :func:`png_bytes`) to a temporary name in the same folder, then rename.

    No fsync (it cost more than the encoding): a crash leaves the old file or the new one, and a
    sequence's frames count only once its ``entry.json`` is written after them.
    """
    replace_bytes(path, png_bytes(image))


def replace_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``.<name>.tmp`` next to ``path`` and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
