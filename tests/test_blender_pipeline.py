"""The headless Blender backend: dataset, determinism, resume, shards + merge, entry points."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from occpose.config import load_config  # noqa: E402
from occpose.dataset import open_benchmark, write_npz  # noqa: E402
from occpose.errors import DatasetError, OccposeError  # noqa: E402

from blender_addon import bridge, pipeline, render, sequence  # noqa: E402

from .test_blender_fixtures import REPO, write_tiny  # noqa: E402

pytestmark = pytest.mark.blender


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root/sequences by relative path -> bytes."""
    base = Path(root) / "sequences"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def preset(tmp_path_factory) -> Path:
    return write_tiny(tmp_path_factory.mktemp("preset"))


@pytest.fixture(scope="module")
def single(preset, tmp_path_factory) -> Path:
    """One uninterrupted, unsharded in-process run."""
    out = tmp_path_factory.mktemp("single") / "bench"
    manifest = pipeline.render_benchmark(load_config(preset), out, quiet=True)
    assert manifest["status"] == "complete"
    return out


def test_dataset_is_valid(single, preset):
    cfg = load_config(preset)
    bench = open_benchmark(single)
    assert bench.manifest["backend"] == "blender"
    assert [c.width for c in bench.cameras.values()] == [64]  # render-resolution cameras
    assert len(bench) == 2 * len(cfg.benchmark.levels)
    for seq in bench:
        rendered = seq.arrays["rendered"]
        np.testing.assert_array_equal(rendered, np.arange(6) % 2 == 0)  # frame_stride = 2
        frames = sorted(p.name for p in (seq.folder / "frames").iterdir())
        assert frames == [f"{t:06d}.png" for t in np.flatnonzero(rendered)]
        assert sorted(p.name for p in (seq.folder / "masks").iterdir()) == frames
        assert ((seq.arrays["mask_visible_fraction"] > 0) & (seq.arrays["mask_visible_fraction"] <= 1)).all()
        assert (seq.arrays["joints_2d"] >= 0).all() and (seq.arrays["joints_2d"] < 64).all()
        assert seq.entry.extra["analytic_agreement"] >= 0.99
        assert not list(seq.folder.rglob(".*.tmp"))


def test_render_bench_script_matches_in_process_run(single, preset, tmp_path):
    """benchmark/render_bench.py under plain Python (bpy module): same bytes as in-process."""
    out = tmp_path / "script"
    proc = subprocess.run([sys.executable, str(REPO / "benchmark" / "render_bench.py"), "--config",
                           str(preset), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "status complete" in proc.stdout
    assert tree(out) == tree(single)


def test_user_mistakes_exit_2(preset, tmp_path):
    script = str(REPO / "benchmark" / "render_bench.py")
    proc = subprocess.run([sys.executable, script, "--config", str(preset), "--out", str(tmp_path / "x"),
                           "--set", "render.samples=0"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "render.samples" in proc.stderr and "Traceback" not in proc.stderr
    plain = shutil.which("python3", path="/usr/bin:/bin")
    if plain and subprocess.run([plain, "-c", "import bpy"], capture_output=True).returncode != 0:
        proc = subprocess.run([plain, script, "--config", str(preset), "--out", str(tmp_path / "y")],
                              capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 2 and "needs Blender" in proc.stderr


def test_resume_after_interruption_gives_the_same_bytes(single, preset, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    original = sequence.SequenceRender.step
    calls = {"n": 0}

    def failing_step(self, t):
        calls["n"] += 1
        if calls["n"] == 9:  # in the second sequence, after frames were written
            raise RuntimeError("simulated crash")
        return original(self, t)

    monkeypatch.setattr(sequence.SequenceRender, "step", failing_step)
    with pytest.raises(RuntimeError, match="simulated crash"):
        pipeline.render_benchmark(load_config(preset), out, quiet=True)
    monkeypatch.setattr(sequence.SequenceRender, "step", original)
    with pytest.raises(DatasetError, match="incomplete"):
        open_benchmark(out)
    manifest = pipeline.render_benchmark(load_config(preset), out, quiet=True)
    assert manifest["status"] == "complete"
    assert tree(out) == tree(single)


def test_shards_merge_to_the_single_run(single, preset, tmp_path):
    from occpose.cli import main as cli

    cfg = load_config(preset)
    for i in range(2):
        pipeline.render_benchmark(cfg, tmp_path / f"s{i}", shard=(i, 2), quiet=True)
    assert cli(["merge", str(tmp_path / "merged"), str(tmp_path / "s0"), str(tmp_path / "s1")]) == 0
    merged, one = open_benchmark(tmp_path / "merged"), open_benchmark(single)
    assert merged.manifest["sequences"] == one.manifest["sequences"]
    assert merged.manifest["cameras"] == one.manifest["cameras"]
    assert tree(tmp_path / "merged") == tree(single)
    assert cli(["merge", str(tmp_path / "part"), str(tmp_path / "s0")]) == 1  # incomplete


def test_merge_refuses_conflicts(single, preset, tmp_path):
    from occpose.cli.merge import merge

    bad = tmp_path / "bad"
    shutil.copytree(single, bad)
    entry_file = next((bad / "sequences").glob("*/entry.json"))
    entry = json.loads(entry_file.read_text())
    arrays = dict(np.load(bad / entry["path"]))
    arrays["visibility"] = np.ones_like(arrays["visibility"])
    entry["sha256"] = write_npz(bad / entry["path"], arrays)
    entry_file.write_text(json.dumps(entry))
    with pytest.raises(DatasetError, match="different arrays"):
        merge(tmp_path / "m1", [single, bad])
    other = tmp_path / "other"
    pipeline.render_benchmark(load_config(preset, ["benchmark.frames=4"]), other, quiet=True)
    with pytest.raises(DatasetError, match="config_sha256"):
        merge(tmp_path / "m2", [single, other])


@pytest.mark.parametrize("engine", ["workbench", "cycles"])
def test_rerendering_a_frame_gives_identical_png_bytes(preset, tmp_path, engine):
    cfg = load_config(preset, [f"render.engine={engine}", "render.samples=2"])
    scene = bridge.ensure_scene("OccPose Test")
    render.configure(scene, cfg.render, seed=0)
    from occpose.generate import SequenceKey, motion_world
    from occpose.occlusion.occluders.geometry import OccluderSet

    joints = motion_world(cfg, "S1", "walk")
    inputs = sequence.SequenceInputs(SequenceKey("S1", "walk", "cam0", 0.0), joints,
                                     cfg.camera_objects(rendered=True)[0], cfg.body_model("S1"),
                                     OccluderSet.empty(len(joints)))
    sequence.build_scene(scene, cfg, inputs)
    scene.frame_set(3)
    render.render_frame(scene, tmp_path / "a.png")
    render.render_frame(scene, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert b"tEXt" not in (tmp_path / "a.png").read_bytes()


def test_blender_backend_in_process(preset, tmp_path):
    from occpose import blender_backend

    assert blender_backend.has_bpy()
    assert blender_backend.run(["--config", str(preset), "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert len(open_benchmark(tmp_path / "b")) > 0
    cmd = blender_backend.blender_command("/opt/blender", ["--config", "x.toml"])
    assert cmd[:5] == ["/opt/blender", "-b", "--factory-startup", "--python-exit-code", "1"]
    assert cmd[-3:] == ["--", "--config", "x.toml"] and cmd[6].endswith("render_bench.py")
    with pytest.raises(OccposeError, match="not an executable"):
        blender_backend.find_blender(str(tmp_path / "no-blender"))


def test_blender_backend_arguments_and_missing_blender(monkeypatch):
    import argparse

    from occpose import blender_backend

    ns = argparse.Namespace(config="q.toml", out="o", seed=4, overrides=["a.b=1"], shard="1/3",
                            overwrite=True, engine="cycles", quiet=False, workers=0)
    assert blender_backend.arguments(ns) == ["--config", "q.toml", "--out", "o", "--seed", "4", "--set",
                                             "a.b=1", "--shard", "1/3", "--overwrite", "--engine", "cycles"]
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(blender_backend.ENV, raising=False)
    with pytest.raises(OccposeError, match="needs Blender"):
        blender_backend.find_blender()


@pytest.mark.skipif(shutil.which("blender") is None, reason="no blender executable on PATH")
def test_blender_executable_renders(single, preset, tmp_path):
    """What CI runs: the Blender executable (Debian's 3.4 here) through occpose.blender_backend."""
    from occpose import blender_backend

    out = tmp_path / "exe"
    code = blender_backend.run(["--config", str(preset), "--out", str(out), "--quiet"],
                               blender=shutil.which("blender"))
    assert code == 0
    bench = open_benchmark(out)
    assert [e.id for e in bench.entries] == [e.id for e in open_benchmark(single).entries]
    for e in bench.entries:  # labels do not depend on the Blender version
        a, b = bench.load(e).arrays, open_benchmark(single).load(e.id).arrays
        np.testing.assert_array_equal(a["occluded"], b["occluded"])
        np.testing.assert_allclose(a["mask_visible_fraction"], b["mask_visible_fraction"])


def test_contact_sheet(single, tmp_path):
    from PIL import Image

    from occpose.cli import main as cli

    assert cli(["sheet", str(single), "--out", str(tmp_path / "sheet.png"), "--size", "64"]) == 0
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.width > 64 and sheet.height > 64
    seq = open_benchmark(single).entries[0].id
    assert cli(["sheet", str(single), "--sequence", seq, "--out", str(tmp_path / "one.png")]) == 0


def test_same_scene_as_the_analytic_backend(single, preset, tmp_path):
    """Same motion and occluders (same key_rng streams) as occpose.generate; labels agree."""
    from occpose.generate import generate

    generate(load_config(preset), tmp_path / "analytic", workers=1, progress=False)
    analytic, blender = open_benchmark(tmp_path / "analytic"), open_benchmark(single)
    assert [e.id for e in analytic.entries] == [e.id for e in blender.entries]
    for e in analytic.entries:
        a, b = analytic.load(e).arrays, blender.load(e.id).arrays
        for name in a:
            if name.startswith("occluder_") and name != "occluder_fraction" or name == "joints_3d_world":
                np.testing.assert_array_equal(a[name], b[name], err_msg=f"{e.id} {name}")
        same = (a["occluded"] == b["occluded"]) & (a["occluded_by_object"] == b["occluded_by_object"])
        assert same.mean() >= 0.99


def test_render_subjects_restrict_the_plan(preset, single, tmp_path):
    """render.subjects = ["S4"]: only S4's sequences, identical to the full run's S4 sequences."""
    cfg = load_config(preset, ['render.subjects=["S4"]'])
    out = tmp_path / "s4"
    assert pipeline.render_benchmark(cfg, out, quiet=True)["status"] == "complete"
    bench, full = open_benchmark(out), open_benchmark(single)
    assert {e.subject for e in bench.entries} == {"S4"}
    for e in bench.entries:
        assert (out / e.path).read_bytes() == (single / full.entry(e.id).path).read_bytes()


def test_scene_reuse_across_levels_equals_fresh_builds(preset, tmp_path):
    """The pipeline swaps only the occluders between the levels of a clip and camera; building
    every sequence's scene from scratch gives the same bytes."""
    cfg = load_config(preset)
    reused = tmp_path / "reused"
    pipeline.render_benchmark(cfg, reused, quiet=True)
    fresh = tmp_path / "fresh"
    original = sequence.same_scene
    sequence.same_scene = lambda a, b: False
    try:
        pipeline.render_benchmark(cfg, fresh, quiet=True)
    finally:
        sequence.same_scene = original
    assert tree(reused) == tree(fresh)
