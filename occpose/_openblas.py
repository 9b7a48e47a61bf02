"""Pin numpy's OpenBLAS to the kernels that standard-v1's checksums were made with.

numpy's bundled OpenBLAS (``DYNAMIC_ARCH``) picks its kernels by processor when numpy is
imported, and its float64 matrix products round differently from one kernel set to another:
generated occluder coordinates then differ in the 16th digit, and with them the files' sha256
(docs/standard.md, "Versions and reproducibility"). standard-v1 was generated with the
``SkylakeX`` kernels, which OpenBLAS 0.3.23 chooses on Intel AVX-512 processors but not on AMD
ones (it takes ``Haswell`` there). On an x86-64 Linux processor with the AVX-512 subsets those
kernels use, :func:`pin` sets ``OPENBLAS_CORETYPE=SkylakeX`` before numpy loads, so that both
give the reference bytes; child processes (the renderer, training workers) inherit it. Nothing
happens when the user set ``OPENBLAS_CORETYPE``, when numpy is already imported (OpenBLAS has
chosen), or on other processors (without AVX-512, numpy's own vectorised trigonometry also takes
other paths, so their bytes differ anyway).
"""

from __future__ import annotations

import os
import platform
import sys

REFERENCE_CORETYPE = "SkylakeX"
_AVX512 = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The first processor's feature flags (Linux), or an empty set."""
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def reference_capable(flags: frozenset[str] | None = None) -> bool:
    """Whether this processor can run the reference kernels (x86-64 with AVX-512 F/CD/BW/DQ/VL)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    return _AVX512 <= (cpu_flags() if flags is None else flags)


def pin() -> str | None:
    """Set ``OPENBLAS_CORETYPE`` to the reference kernels where that is possible and not yet
    decided; returns the value set, or None."""
    if "OPENBLAS_CORETYPE" in os.environ or "numpy" in sys.modules or not reference_capable():
        return None
    os.environ["OPENBLAS_CORETYPE"] = REFERENCE_CORETYPE
    return REFERENCE_CORETYPE
