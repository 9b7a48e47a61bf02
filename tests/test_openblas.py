"""occpose pins numpy's OpenBLAS to standard-v1's kernels where the processor allows it."""

import os
import subprocess
import sys

from occpose import _openblas

AVX512 = "fpu sse2 avx avx2 fma avx512f avx512cd avx512bw avx512dq avx512vl"


def test_capability_needs_every_avx512_subset_the_kernels_use(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {AVX512}\n\nprocessor\t: 1\nflags\t\t: {AVX512}\n")
    assert _openblas.cpu_flags(str(info)) >= {"avx512f", "avx512vl", "fma"}
    monkeypatch.setattr(_openblas.platform, "machine", lambda: "x86_64")
    assert _openblas.reference_capable(_openblas.cpu_flags(str(info)))
    assert not _openblas.reference_capable(frozenset(AVX512.replace(" avx512bw", "").split()))
    assert not _openblas.reference_capable(frozenset({"avx2", "fma"}))
    assert _openblas.cpu_flags(str(tmp_path / "missing")) == frozenset()
    monkeypatch.setattr(_openblas.platform, "machine", lambda: "aarch64")
    assert not _openblas.reference_capable(frozenset(AVX512.split()))


def _coretype_after_import(first: str, env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if env_value is not None:
        env["OPENBLAS_CORETYPE"] = env_value
    code = f"import {first}; import occpose, os; print(os.environ.get('OPENBLAS_CORETYPE', '-'))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_pin_before_numpy_only_and_never_over_the_users_choice():
    expected = _openblas.REFERENCE_CORETYPE if _openblas.reference_capable() else "-"
    assert _coretype_after_import("sys", None) == expected
    assert _coretype_after_import("numpy", None) == "-"          # OpenBLAS had already chosen
    assert _coretype_after_import("sys", "Haswell") == "Haswell"  # the user's setting wins
