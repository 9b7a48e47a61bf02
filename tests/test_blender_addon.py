"""The add-on: registration, operators run headlessly, the installable zip."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

bpy = pytest.importorskip("bpy")

import blender_addon  # noqa: E402
from occpose.dataset import open_benchmark  # noqa: E402

from .test_blender_fixtures import write_tiny  # noqa: E402

pytestmark = pytest.mark.blender


def registered() -> list[str]:
    from blender_addon import operators, panels, properties

    return [c.__name__ for c in properties.CLASSES + operators.CLASSES + panels.CLASSES if c.is_registered]


@pytest.fixture
def addon():
    blender_addon.register()
    yield
    blender_addon.unregister()


def test_register_unregister_reregister():
    handlers = {name: len(getattr(bpy.app.handlers, name)) for name in dir(bpy.app.handlers)
                if not name.startswith("_") and isinstance(getattr(bpy.app.handlers, name), list)}
    for _ in range(2):  # re-enabling works
        blender_addon.register()
        assert registered() == ["OCCPOSE_PG_settings", "OCCPOSE_OT_build_scene",
                                "OCCPOSE_OT_place_occluders", "OCCPOSE_OT_label_visibility",
                                "OCCPOSE_OT_render_benchmark", "OCCPOSE_PT_main", "OCCPOSE_PT_legend",
                                "OCCPOSE_PT_render"]
        assert hasattr(bpy.types, "OCCPOSE_OT_build_scene")
        assert hasattr(bpy.types.Scene, "occpose") and bpy.context.scene.occpose.subject == "S1"
        assert bpy.ops.occpose.build_scene.poll()
        blender_addon.unregister()
        assert registered() == [] and not hasattr(bpy.types, "OCCPOSE_OT_build_scene")
        assert not hasattr(bpy.types.Scene, "occpose")
        with pytest.raises(AttributeError):
            bpy.context.scene.occpose  # noqa: B018
    after = {name: len(getattr(bpy.app.handlers, name)) for name in handlers}
    assert after == handlers  # no handlers (or timers) left behind


def test_operators_headless(addon, tmp_path):
    s = bpy.context.scene.occpose
    s.preset = str(write_tiny(tmp_path, frames=6))
    s.level = 0.2
    s.output = str(tmp_path / "bench")
    with pytest.raises(RuntimeError, match="build the scene first"):  # nothing built yet
        bpy.ops.occpose.label_visibility()
    assert bpy.ops.occpose.build_scene() == {"FINISHED"}
    scene = bpy.context.scene
    body = [o for o in scene.objects if o.get("occpose_role") == "body"]
    assert len(body) == 16 and scene.frame_start == 0 and scene.frame_end == 5
    assert bpy.ops.occpose.place_occluders() == {"FINISHED"}
    assert bpy.ops.occpose.label_visibility() == {"FINISHED"}
    assert "agrees with the analytic labels on" in s.status
    markers = [o for o in scene.objects if o.get("occpose_role") == "marker"]
    assert len(markers) == 17 and all(o.animation_data and o.animation_data.action for o in markers)
    assert bpy.ops.occpose.render_benchmark() == {"FINISHED"}
    bench = open_benchmark(tmp_path / "bench")
    assert bench.manifest["backend"] == "blender" and len(bench) > 0
    s.subject = "S9"
    with pytest.raises(RuntimeError, match="no subject 'S9'"):
        bpy.ops.occpose.build_scene()
    bpy.data.scenes.remove(bpy.data.scenes["OccPose Render"])


def test_addon_zip_installs_as_extension(tmp_path):
    from blender_addon import build

    path = build.build(tmp_path / "dist")
    assert path.name == f"occpose-{build.version()}-blender.zip"
    assert build.build(tmp_path / "again").read_bytes() == path.read_bytes()  # reproducible
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        wheel = next(n for n in names if n.startswith("occpose_blender/wheels/occpose-"))
        z.extract(wheel, tmp_path)
    assert all(n.startswith("occpose_blender/") for n in names)
    assert "occpose_blender/blender_manifest.toml" in names and "occpose_blender/__init__.py" in names
    assert "occpose_blender/presets/quick.toml" in names and "occpose_blender/build.py" not in names
    assert "occpose_blender/_vendor/occpose/config.py" in names
    with zipfile.ZipFile(tmp_path / wheel) as w:
        wnames = w.namelist()
        record = w.read("occpose-0.1.0.dist-info/RECORD").decode()
    assert "occpose/config.py" in wnames and "occpose/config.py,sha256=" in record
    assert not [n for n in names + wnames if n.endswith((".so", ".pyd", ".dylib", ".pyc"))]
    script = ("import sys, bpy; r = bpy.ops.extensions.package_install_files(filepath=sys.argv[1], "
              "repo='user_default', enable_on_install=True); s = bpy.context.scene.occpose; "
              "s.frames = 3; print(bpy.ops.occpose.build_scene(), s.status)")
    env = {**os.environ, "BLENDER_USER_RESOURCES": str(tmp_path / "user")}
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=tmp_path)
    assert "{'FINISHED'} Built S1 walk" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    wheels = list((tmp_path / "user").rglob("site-packages/occpose/__init__.py"))
    assert wheels, "occpose was not installed from the bundled wheel"
