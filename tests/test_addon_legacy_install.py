"""The add-on zip installs as a legacy add-on in the Blender executable on PATH (Debian's 3.4 in
CI): Preferences > Add-ons > Install, enable, Build Scene, with occpose from ``_vendor/``."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

BLENDER = shutil.which("blender")

pytestmark = [pytest.mark.blender,
              pytest.mark.skipif(BLENDER is None, reason="no Blender executable on PATH")]

SCRIPT = """
import sys, addon_utils, bpy
bpy.ops.preferences.addon_install(filepath=sys.argv[-1])
addon_utils.enable("occpose_blender", default_set=True, handle_error=None)
import occpose
s = bpy.context.scene.occpose
s.frames = 3
print("RESULT", bpy.ops.occpose.build_scene(), s.status)
print("OCCPOSE_FROM", occpose.__file__)
"""


def test_zip_installs_as_legacy_addon(tmp_path):
    from blender_addon import build

    path = build.build(tmp_path / "dist")
    env = {**os.environ, "BLENDER_USER_SCRIPTS": str(tmp_path / "scripts"), "PYTHONNOUSERSITE": "1"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([BLENDER, "-b", "--factory-startup", "--python-exit-code", "1",
                           "--python-expr", SCRIPT, "--", str(path)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert "RESULT {'FINISHED'} Built S1 walk" in out, out[-3000:]
    assert "occpose_blender/_vendor/occpose/__init__.py" in out  # vendored, not a checkout
