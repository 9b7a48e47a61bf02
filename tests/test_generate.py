"""End to end: ``occpose-bench generate`` on a tiny preset, read back and re-derived."""

import hashlib
import json

import numpy as np
import pytest

import occpose.generate as gen
from occpose.cli import main
from occpose.config import load_config
from occpose.dataset import open_benchmark
from occpose.occlusion import VisibilityParams, label_visibility

from .test_placement import BOX_OBJ


def generate(preset, out, *extra):
    return main(["generate", "--config", str(preset), "--out", str(out), "--quiet", "--workers", "1",
                 *extra])


def checksums(out) -> dict[str, str]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {s["id"]: s["sha256"] for s in manifest["sequences"]}


def file_bytes(out) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny preset generated once, uninterrupted: (preset path, output dir)."""
    from .conftest import REPO, TINY_PRESET

    root = tmp_path_factory.mktemp("gen")
    preset = root / "tiny.toml"
    preset.write_text(TINY_PRESET.format(scenes=REPO / "scenes"))
    assert generate(preset, root / "ref") == 0
    return preset, root / "ref"


def test_complete_benchmark_within_tolerance(reference):
    preset, out = reference
    cfg = load_config(preset)
    bench = open_benchmark(out)
    b = cfg.benchmark
    assert len(bench) == len(b.train_subjects + b.test_subjects) * len(b.actions) * len(b.levels)
    for seq in bench:
        e = seq.entry
        assert abs(e.achieved_level - e.target_level) <= cfg.occluders.tolerance, e.id
        assert e.achieved_level == float(seq.occluder_fraction.mean())
        assert 1 <= e.extra["search_steps"] <= cfg.occluders.max_evaluations
        occ = seq.occluders()
        assert (occ.num_primitives == 0) == (e.target_level == 0), e.id
        if occ.num_primitives:
            assert occ.world_aabb()[..., 0, 2].min() >= -1e-3
            assert e.extra["occluders"] == occ.num_groups


def test_labels_rederive_exactly_from_the_files(reference):
    _, out = reference
    bench = open_benchmark(out)
    params = VisibilityParams(**bench.manifest["visibility"])
    for seq in bench:
        camera, body = bench.cameras[seq.entry.camera], bench.body_models[seq.entry.subject]
        occ = seq.occluders().in_camera_frame(camera)
        labels = label_visibility(seq.joints_3d_cam.astype(np.float64), body, camera,
                                  occ if occ.num_primitives else None, params)
        for name, arr in labels.to_arrays().items():
            np.testing.assert_array_equal(arr, seq.arrays[name], err_msg=f"{seq.id} {name}")
        states = np.stack([~(seq.occluded | seq.out_of_frame), seq.occluded_by_body,
                           seq.occluded_by_object, seq.out_of_frame]).astype(int)
        assert (states.sum(axis=0) == 1).all(), seq.id  # every joint-frame in exactly one state


def test_same_seed_same_bytes_and_other_seed_refused(reference, tmp_path, capsys):
    preset, out = reference
    assert generate(preset, tmp_path / "again") == 0
    assert checksums(tmp_path / "again") == checksums(out)
    assert generate(preset, tmp_path / "other", "--seed", "8") == 0
    assert set(checksums(tmp_path / "other").values()).isdisjoint(checksums(out).values())
    before = file_bytes(tmp_path / "again")
    capsys.readouterr()
    assert generate(preset, tmp_path / "again", "--seed", "8") == 2  # another config: refused
    assert "different configuration" in capsys.readouterr().err
    assert file_bytes(tmp_path / "again") == before
    open_benchmark(tmp_path / "again")


def test_interrupted_run_resumes_to_the_same_bytes(reference, tmp_path, monkeypatch):
    preset, out = reference
    real, calls = gen.make_sequence, []

    def flaky(*args, **kw):
        calls.append(1)
        if len(calls) > 3:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(gen, "make_sequence", flaky)
    assert generate(preset, tmp_path / "b") == 130
    monkeypatch.setattr(gen, "make_sequence", real)
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert generate(preset, tmp_path / "b") == 0
    assert checksums(tmp_path / "b") == checksums(out)
    # a shard first, then the rest: the same bytes again
    assert generate(preset, tmp_path / "c", "--shard", "1/2") == 0
    assert 0 < len(checksums(tmp_path / "c")) < len(checksums(out))
    assert generate(preset, tmp_path / "c") == 0
    assert checksums(tmp_path / "c") == checksums(out)


def test_one_sequence_regenerated_alone(reference):
    preset, out = reference
    cfg = load_config(preset)
    bench = open_benchmark(out)
    key = [k for k in gen.plan(cfg) if k.level > 0][-1]
    camera = {c.name: c for c in cfg.camera_objects()}[key.camera]
    entry, arrays = gen.make_sequence(cfg, key, gen.motion_world(cfg, key.subject, key.action), camera)
    stored = bench.load(key.id).arrays
    assert set(arrays) == set(stored)
    for name, arr in arrays.items():
        assert arr.dtype == stored[name].dtype and arr.tobytes() == stored[name].tobytes(), name
    assert entry.achieved_level == bench.entry(key.id).achieved_level


def test_unreachable_level_exits_3(reference, tmp_path, capsys):
    preset, _ = reference
    code = generate(preset, tmp_path / "x", "--set", 'occluders.kinds=["sphere"]',
                    "--set", "occluders.max_size=0.04", "--set", "occluders.max_evaluations=5")
    err = capsys.readouterr().err
    assert code == 3
    assert "sequence S1_" in err and "_cam0_L020: occlusion level 0.2" in err and "best level found" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_mesh_occluders_end_to_end(reference, tmp_path):
    preset, _ = reference
    mesh = tmp_path / "crate.obj"
    mesh.write_text(BOX_OBJ)
    assert generate(preset, tmp_path / "m", "--set", 'occluders.kinds=["mesh"]',
                    "--set", f'occluders.meshes=["{mesh.as_posix()}"]',
                    "--set", 'benchmark.actions=["box"]', "--set", "benchmark.levels=[0.2]") == 0
    sha = hashlib.sha256(mesh.read_bytes()).hexdigest()
    for seq in open_benchmark(tmp_path / "m"):
        occ = seq.occluders()
        assert len(occ.meshes) == 1 and occ.meshes[0].sha256 == sha
        assert abs(seq.entry.achieved_level - 0.2) <= 0.05
