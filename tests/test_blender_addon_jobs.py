"""The add-on's long operators (bpy module): unsaved-file refusal, job size, the modal path's
output and progress calls, cancel of each long operator, one-line errors."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

import blender_addon  # noqa: E402
from blender_addon import bridge, operators  # noqa: E402
from blender_addon.jobsize import job_size  # noqa: E402
from blender_addon.progress import Job  # noqa: E402
from occpose.config import load_config  # noqa: E402

from .test_addon_progress import Recorder  # noqa: E402
from .test_blender_fixtures import REPO, write_tiny  # noqa: E402

pytestmark = pytest.mark.blender


def _clean_scene() -> None:
    """No render scene, occpose objects or built/placed marks (left by this file's tests or by
    another test file run before them in the same process)."""
    for name in ("OccPose Render",):
        if name in bpy.data.scenes:
            bpy.data.scenes.remove(bpy.data.scenes[name])
    bridge.clear(bpy.context.scene)
    for key in (operators.BUILT, operators.PLACED):
        bpy.context.scene.pop(key, None)


@pytest.fixture
def addon(tmp_path):
    blender_addon.register()
    _clean_scene()
    s = bpy.context.scene.occpose
    s.preset = str(write_tiny(tmp_path, frames=6))
    s.level, s.frames, s.seed, s.overwrite = 0.2, 0, -1, False  # settings persist on the scene
    s.subject, s.action, s.camera = "S1", "walk", "cam0"
    yield s
    _clean_scene()
    blender_addon.unregister()


def files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def same_tree(a: Path, b: Path) -> bool:
    return files(a) == files(b) and all(filecmp.cmp(a / f, b / f, shallow=False) for f in files(a))


def modal_job(steps, rec, **kw) -> Job:
    """What the modal operator does: a Job advanced one slice per timer event."""
    return Job("test", steps, rec, rec, min_slice=0.0, **kw)


@pytest.mark.filterwarnings("ignore:.*blend relative")  # Blender warns about // on unsaved files
def test_unsaved_file_refuses_relative_output(addon, tmp_path, monkeypatch):
    assert bpy.data.filepath == ""  # the bpy module starts with an unsaved file
    monkeypatch.chdir(tmp_path)
    for output, reason in (("//occpose_benchmark", "not saved"), ("bench", "relative path"), ("", "empty")):
        addon.output = output
        with pytest.raises(RuntimeError, match=reason):
            bpy.ops.occpose.render_benchmark()
        assert addon.status_level == "ERROR" and not addon.status.startswith("Error")
    assert list(tmp_path.iterdir()) == [tmp_path / "tiny.toml"]  # nothing written anywhere


def test_job_size_of_the_quick_preset():
    size = job_size(load_config(REPO / "scenes" / "quick.toml"))
    assert (size.sequences, size.frames, size.rendered) == (360, 54000, 1080)
    text = size.summary()
    assert text.startswith("360 sequences, 54,000 frames (1,080 rendered), ~") and " to " in text


def test_panel_shows_effective_values_and_job_size(addon):
    from blender_addon.panels import settings_info

    info = settings_info(addon)
    assert (info["frames"], info["seed"], info["error"]) == (6, 3, "")
    assert info["job"].startswith("4 sequences, 24 frames (12 rendered)")
    addon.frames, addon.seed = 4, 9
    info = settings_info(addon)
    assert (info["frames"], info["seed"]) == (4, 9)


def test_modal_path_writes_the_same_bytes_and_reports_progress(addon, tmp_path):
    addon.output = str(tmp_path / "direct")
    assert bpy.ops.occpose.render_benchmark() == {"FINISHED"}
    addon.output = str(tmp_path / "modal")
    rec = Recorder()
    job = modal_job(operators.render_steps(addon), rec)
    slices = 1
    while not job.run_slice(budget=0.0):   # one step per slice: the job yields between frames
        slices += 1
    assert slices >= 24 and job.message.startswith("Rendered 4 sequences")
    assert same_tree(tmp_path / "direct", tmp_path / "modal")
    kinds = [c[0] for c in rec.calls]
    assert kinds[0] == "begin" and kinds[-2:] == ["end", "status"] and rec.calls[-1] == ("status", None)
    updates = [c[1] for c in rec.calls if c[0] == "update"]
    assert updates == sorted(updates) and len(updates) >= 24 and updates[-1] == 100.0
    texts = [c[1] for c in rec.calls if c[0] == "status" and c[1]]
    assert any("(24/24)" in t and "Esc to cancel" in t for t in texts)


def test_progress_reaches_the_window_manager(addon, tmp_path, monkeypatch):
    """The operators call window_manager.progress_* (a recording stand-in in its place)."""
    rec = Recorder()
    monkeypatch.setattr(operators._JobOperator, "new_job", lambda self, context: Job(
        self.bl_label, self.steps(context, context.scene.occpose), rec, rec))
    assert bpy.ops.occpose.build_scene() == {"FINISHED"}
    assert rec.calls[0] == ("begin", 0, 100) and ("end",) in rec.calls
    assert any(c[0] == "update" for c in rec.calls)


def test_cancel_each_long_operator(addon, tmp_path):
    scene = bpy.context.scene
    rec = Recorder()
    job = modal_job(operators.build_steps(scene, addon), rec)
    job.run_slice(budget=0.0)
    job.cancel()  # Esc before the objects are made: nothing changed
    assert operators.BUILT not in scene and not bridge.blockers(scene)
    assert rec.calls[-2:] == [("end",), ("status", None)]

    assert bpy.ops.occpose.build_scene() == {"FINISHED"}
    job = modal_job(operators.place_steps(scene, addon), Recorder())
    job.run_slice(budget=0.0)
    job.cancel()
    assert operators.PLACED not in scene
    assert not any(o.get("occpose_role") == "occluder" for o in scene.objects)

    assert bpy.ops.occpose.place_occluders() == {"FINISHED"}
    job = modal_job(operators.label_steps(scene, addon), Recorder())
    job.run_slice(budget=0.0)
    job.run_slice(budget=0.0)
    job.cancel()
    assert not any(o.get("occpose_role") == "marker" for o in scene.objects)

    addon.output = str(tmp_path / "whole")
    assert bpy.ops.occpose.render_benchmark() == {"FINISHED"}
    addon.output = str(tmp_path / "cancelled")
    job = modal_job(operators.render_steps(addon), Recorder())
    for _ in range(9):  # one step per slice: the first sequence (6 frames) and part of the second
        job.run_slice(budget=0.0)
    job.cancel()
    done = [p.name for p in (tmp_path / "cancelled" / "sequences").iterdir() if (p / "arrays.npz").exists()]
    assert len(done) == 1
    render_scene = bpy.data.scenes["OccPose Render"]
    assert not render_scene.objects  # the half-built sequence is cleared
    assert bpy.ops.occpose.render_benchmark() == {"FINISHED"}  # resumes
    assert same_tree(tmp_path / "whole", tmp_path / "cancelled")


def test_build_says_what_it_changes_and_hides_only_the_default_cube(addon):
    scene = bpy.context.scene
    cube = scene.objects.get("Cube")  # the startup file's default cube
    made = cube is None
    if made:
        import bmesh

        cube = bpy.data.objects.new("Cube", bpy.data.meshes.new("Cube"))
        bm = bmesh.new()
        bmesh.ops.create_cube(bm, size=2.0)
        bm.to_mesh(cube.data)
        bm.free()
        scene.collection.objects.link(cube)
    cube.hide_render = False
    cube.hide_set(False)
    cube.location = (0.0, 0.0, 0.0)
    scene.frame_start, scene.frame_end = 1, 250
    try:
        scene.render.resolution_x, scene.render.resolution_y = 1920, 1080
        assert bpy.ops.occpose.build_scene() == {"FINISHED"}
        assert "resolution 1920 x 1080 -> 64 x 64" in addon.status and "frames 1-250 -> 0-5" in addon.status
        assert "hid the default Cube" in addon.status and cube.hide_render
        cube.hide_render = False
        cube.location.x = 3.0  # moved by the user: not the default cube any more
        assert bpy.ops.occpose.build_scene() == {"FINISHED"}
        assert "Cube" not in addon.status and not cube.hide_render
    finally:
        cube.location = (0.0, 0.0, 0.0)
        if made:
            bpy.data.objects.remove(cube)


def test_failures_are_one_line_without_cli_flags(addon, tmp_path):
    out = tmp_path / "bench"
    addon.output = str(out)
    assert bpy.ops.occpose.render_benchmark() == {"FINISHED"}
    addon.frames = 4  # another configuration into the same folder
    with pytest.raises(RuntimeError) as err:
        bpy.ops.occpose.render_benchmark()
    msg = str(err.value)
    assert "--" not in msg and "Overwrite" in msg and "Error: Error" not in msg
    assert "\n" not in addon.status.strip()
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        addon.output = str(locked / "bench")
        with pytest.raises(RuntimeError, match="Permission denied"):
            bpy.ops.occpose.render_benchmark()
    addon.output = str(tmp_path / "tiny.toml" / "bench")  # a file in the way: unwritable everywhere
    with pytest.raises(RuntimeError):
        bpy.ops.occpose.render_benchmark()
    assert addon.status_level == "ERROR" and "\n" not in addon.status and "Traceback" not in addon.status


def test_one_modal_job_at_a_time(addon):
    operators._RUNNING["Render Benchmark"] = Job("Render Benchmark", iter(()), Recorder())
    try:
        assert not bpy.ops.occpose.build_scene.poll() and not bpy.ops.occpose.render_benchmark.poll()
        assert operators.running_job().title == "Render Benchmark"  # the panel shows its progress
    finally:
        operators._RUNNING.clear()
    assert bpy.ops.occpose.build_scene.poll() and operators.running_job() is None
