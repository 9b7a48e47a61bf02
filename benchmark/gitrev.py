"""A module of the package as it was at a git revision, for old-vs-new benchmarks in one run."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def module_at(rev: str, path: str) -> types.ModuleType:
    """``path`` (e.g. ``blender_addon/labels.py``) of git revision ``rev``, executed as a module
    of the current package (its relative imports resolve to today's package)."""
    src = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:{path}"],
                         check=True, capture_output=True, text=True).stdout
    package, stem = path[:-3].replace("/", ".").rsplit(".", 1)
    name = f"{package}._{stem}_{rev}"
    mod = types.ModuleType(name)
    mod.__package__ = package
    sys.modules[name] = mod
    exec(compile(src, f"{rev}:{path}", "exec"), mod.__dict__)
    return mod
