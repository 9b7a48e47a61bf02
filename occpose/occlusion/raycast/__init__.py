"""Ray casting and the ray-cast visibility labels.

``primitives`` (ray-primitive and ray-mesh intersection), ``camera_rays`` (float32 kernels for rays
from one camera centre), ``visibility`` (the definition and :func:`label_visibility`), and its
engines ``engine_numpy`` and ``engine_torch``.
"""
