"""Random streams derived from keys, never from the order of generation.

Every sequence draws from its own ``np.random.Generator`` seeded by a hash of its key (subject,
action, camera, level, global seed) and a purpose string, so any slice of a preset regenerates
alone with the same bytes, and two purposes (motion, occluders, noise, ...) never share a stream.
"""

from __future__ import annotations

import hashlib

import numpy as np


def key_seed(*parts: object) -> int:
    """A 64-bit integer seed from the ``repr`` of the key parts (stable across runs/platforms)."""
    text = "\x1f".join(_canonical(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def key_rng(*parts: object) -> np.random.Generator:
    """A PCG64 generator for the key; see :func:`key_seed`."""
    return np.random.Generator(np.random.PCG64(key_seed(*parts)))


def _canonical(p: object) -> str:
    if isinstance(p, float):
        return repr(round(p, 9))
    if isinstance(p, (list, tuple)):
        return "(" + ",".join(_canonical(x) for x in p) + ")"
    return str(p)
