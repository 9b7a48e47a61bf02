"""Build of the optional native ray kernels (everything else is in pyproject.toml).

``occpose/occlusion/raycast/_rays.c`` is plain C loaded with ctypes; when it cannot be built
(no C compiler) the install goes on and occpose uses its numpy kernels, which give the same
bytes (``occpose.occlusion.raycast.native``).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "occpose.occlusion.raycast._rays", ["occpose/occlusion/raycast/_rays.c"], optional=True,
    # no fused multiply-adds beyond the explicit fmaf calls: the numpy kernels' exact arithmetic
    extra_compile_args=["-O3", "-std=c11", "-ffp-contract=off", "-fno-fast-math",
                        "-fno-math-errno"],
    libraries=["m"])])
