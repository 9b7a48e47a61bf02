"""Build of the optional native ray kernels (everything else is in pyproject.toml).

``occpose/occlusion/raycast/_rays.c`` is plain C loaded with ctypes; when it cannot be built
(no C compiler) the install goes on and occpose uses its numpy kernels, which give the same
bytes (``occpose.occlusion.raycast.native``). The library records the sha256 of the source it
was built from, so that a stale build (sources updated, not rebuilt) is never loaded.
"""

import hashlib
from pathlib import Path

from setuptools import Extension, setup

SOURCE = "occpose/occlusion/raycast/_rays.c"
SHA = hashlib.sha256((Path(__file__).parent / SOURCE).read_bytes()).hexdigest()

setup(ext_modules=[Extension(
    "occpose.occlusion.raycast._rays", [SOURCE], optional=True,
    define_macros=[("OCC_SOURCE_SHA256", f'"{SHA}"')],
    # no fused multiply-adds beyond the explicit fmaf calls: the numpy kernels' exact arithmetic
    extra_compile_args=["-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math",
                        "-fno-math-errno"],
    libraries=["m"])])
