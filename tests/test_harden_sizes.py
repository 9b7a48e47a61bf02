"""Hardening, class 3: sizes are estimated before a run starts; what cannot fit is refused (with
the estimate) before anything is written or deleted, and ``--force-size`` goes ahead anyway."""

from __future__ import annotations

import pytest

from occpose import sizes

from .hardening import copy_bench, fails_cleanly, fake_benchmark, gen, snapshot, write_tiny12
from .hardening import preset, reference  # noqa: F401 (module-scoped fixtures)



@pytest.mark.parametrize("extra", [(), ("--overwrite",)])
def test_a_billion_frames_is_refused_and_deletes_nothing(preset, reference, tmp_path, capsys, extra):
    out = copy_bench(reference, tmp_path / "bench")
    line = fails_cleanly(["generate", "--config", preset, "--out", out, "--set",
                          "benchmark.frames=1000000000", *extra], capsys, tmp_path,
                         "generate would need about", "of memory", "too much memory",
                         "--force-size")
    assert "TB" in line or "PB" in line


def test_train_with_a_billion_channels_is_refused(tmp_path, capsys):
    bench = fake_benchmark(tmp_path / "bench", frames=6)
    fails_cleanly(["train", "--data", bench, "--model", "tcn", "--out", tmp_path / "run",
                   "--channels", "1000000000", "--device", "cpu", "--quiet"], capsys, tmp_path,
                  "train would need about", "too much memory", "--force-size")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override, needle", [
    ("render.resolution=[100000,100000]", "'render.resolution' must be at most 65536"),
    ("render.samples=1000000000", "'render.samples' must be at most 16777216"),
])
def test_blender_limits_are_checked_in_the_preset(preset, tmp_path, capsys, override, needle):
    fails_cleanly(["generate", "--config", preset, "--out", tmp_path / "b", "--backend", "blender",
                   "--set", override, "--quiet"], capsys, tmp_path, needle)


def test_a_render_that_cannot_fit_is_refused_before_blender_starts(preset, tmp_path, capsys):
    # within Blender's limits, but about 400 GB of render buffers and years of Cycles samples
    fails_cleanly(["generate", "--config", preset, "--out", tmp_path / "b", "--backend", "blender",
                   "--blender", "/nonexistent/blender", "--set", "render.resolution=[65536,65536]",
                   "--set", "render.samples=4096", "--set", "render.engine=cycles", "--quiet"],
                  capsys, tmp_path, "render would need about", "too much memory", "too much time")


def test_force_size_goes_ahead(preset, reference, tmp_path, capsys, monkeypatch):
    """With 1 MB 'available' the tiny run is refused; --force-size makes the same bytes."""
    monkeypatch.setattr(sizes, "available_memory", lambda: 1e6)
    fails_cleanly(["generate", "--config", preset, "--out", tmp_path / "b", "--quiet"], capsys,
                  tmp_path, "too much memory (this machine has 1 MB available)")
    assert gen(preset, tmp_path / "b", "--force-size") == 0
    assert snapshot(tmp_path / "b") == snapshot(reference)


def test_estimates_grow_with_the_run():
    from occpose.config import config_from_dict
    from occpose.harness import RunSettings

    from .conftest import REPO
    from occpose.config import read_preset

    cfg = config_from_dict(read_preset(REPO / "scenes" / "quick.toml"), "quick")
    small, big = sizes.generate_estimate(cfg, 10, 1), sizes.generate_estimate(cfg, 1000, 1)
    assert big.disk > 50 * small.disk and big.seconds > 50 * small.seconds
    s = RunSettings(model="tcn", channels=64)
    t64, t1024 = sizes.train_estimate(s), sizes.train_estimate(RunSettings(model="tcn", channels=1024))
    assert t1024.memory > t64.memory and t1024.disk > 100 * t64.disk
    sizes.check(big, None)  # the quick preset fits


def test_an_npz_bomb_is_refused_before_it_is_unpacked(reference, tmp_path, capsys):
    """A sequence file of a few KB whose array claims megabytes (zeros compress well): the
    reader checks the zip directory against what a sequence of this length can need."""
    import hashlib
    import io
    import json
    import zipfile

    import numpy as np

    bench = copy_bench(reference, tmp_path / "bench")
    manifest = json.loads((bench / "manifest.json").read_text())
    entry = manifest["sequences"][0]
    path = bench / entry["path"]
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, value in arrays.items():
            member = io.BytesIO()
            if name == "joints_3d_world":
                np.lib.format.write_array(member, np.zeros((400_000, 17, 3), np.float32))
            else:
                np.lib.format.write_array(member, value)
            zf.writestr(f"{name}.npy", member.getvalue())
    path.write_bytes(buf.getvalue())
    assert path.stat().st_size < 200_000
    entry["sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (bench / "manifest.json").write_text(json.dumps(manifest))
    fails_cleanly(["labels", bench, "--out", tmp_path / "r"], capsys, tmp_path,
                  str(path), "'joints_3d_world.npy' unpacks to 81600128 bytes", "refusing")


@pytest.mark.blender
def test_render_bench_checks_the_size_too(preset, tmp_path, capsys):
    """``benchmark/render_bench.py`` (blender -P) runs pipeline.main, which estimates too."""
    pytest.importorskip("bpy")
    from blender_addon import pipeline

    before = snapshot(tmp_path)
    rc = pipeline.main(["--config", str(preset), "--out", str(tmp_path / "b"), "--quiet", "--set",
                        "render.resolution=[65536,65536]", "--set", "render.samples=4096"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "render would need about" in err[0], err
    assert "--force-size" in err[0] and snapshot(tmp_path) == before
