"""The dataset format: deterministic npz, atomic writes, validation, refusal to mix configs."""

import json

import numpy as np
import pytest

from occpose.config import load_config
from occpose.dataset import (BenchmarkWriter, SequenceEntry, open_benchmark, read_npz,
                             sequence_id, write_npz)
from occpose.dataset.npz import npz_bytes
from occpose.errors import DatasetError


def fake_arrays(t=5, j=17, rng=None):
    rng = rng or np.random.default_rng(0)
    occ = rng.random((t, j)) < 0.2
    return {
        "joints_3d_world": rng.normal(size=(t, j, 3)).astype(np.float32),
        "joints_3d_cam": rng.normal(size=(t, j, 3)).astype(np.float32),
        "joints_2d": rng.uniform(0, 1000, size=(t, j, 2)).astype(np.float32),
        "visibility": np.where(occ, 0.2, 1.0).astype(np.float32),
        "occluded": occ,
        "occluded_by_body": occ,
        "occluded_by_object": np.zeros((t, j), bool),
        "out_of_frame": np.zeros((t, j), bool),
        "occluder_fraction": np.zeros(t, np.float32),
        "self_occlusion_fraction": occ.mean(1).astype(np.float32),
    }


def write_one(root, cfg, arrays, seq="S1_walk_cam0_L000", overwrite=False):
    w = BenchmarkWriter(root, cfg, overwrite=overwrite)
    e = SequenceEntry(id=seq, subject="S1", action="walk", camera="cam0", split="train",
                      target_level=0.0, frames=arrays["occluded"].shape[0], path="", sha256="")
    w.write_sequence(e, arrays)
    w.finalize([seq])
    return w


def test_npz_bytes_are_deterministic_and_loadable(tmp_path):
    arrays = fake_arrays()
    assert npz_bytes(arrays) == npz_bytes({k: v.copy() for k, v in arrays.items()})
    sha = write_npz(tmp_path / "a.npz", arrays)
    back = read_npz(tmp_path / "a.npz", sha)
    assert all((back[k] == v).all() and back[k].dtype == v.dtype for k, v in arrays.items())
    with np.load(tmp_path / "a.npz") as z:  # plain numpy reads it too
        assert set(z.files) == set(arrays)


def test_object_arrays_are_refused():
    with pytest.raises(TypeError, match="pickles"):
        npz_bytes({"x": np.array([{"a": 1}], dtype=object)})


def test_truncated_corrupt_and_pickled_npz(tmp_path):
    write_npz(tmp_path / "ok.npz", fake_arrays())
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="trunc.npz: truncated or corrupt"):
        read_npz(tmp_path / "trunc.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DatasetError, match="junk.npz"):
        read_npz(tmp_path / "junk.npz")
    np.savez(tmp_path / "pickled.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DatasetError, match="pickled"):
        read_npz(tmp_path / "pickled.npz")
    with pytest.raises(DatasetError, match="sha256"):
        read_npz(tmp_path / "ok.npz", expected_sha256="0" * 64)


def test_round_trip_and_validation(tmp_path, tiny_preset):
    cfg = load_config(tiny_preset)
    write_one(tmp_path / "b", cfg, fake_arrays())
    bench = open_benchmark(tmp_path / "b")
    seq = bench.load(bench.entries[0])
    assert seq.joints_2d.shape == (5, 17, 2)
    assert bench.manifest["config_sha256"] == cfg.sha256()
    assert bench.manifest["body_models"]["S1"]["segments"][0]["radius"] > 0

    bad = fake_arrays()
    bad["joints_2d"][0, 0, 0] = np.nan
    with pytest.raises(DatasetError, match="'joints_2d' holds NaN"):
        write_one(tmp_path / "c", cfg, bad)
    bad = fake_arrays()
    bad["visibility"] = bad["visibility"].astype(np.float64)
    with pytest.raises(DatasetError, match="'visibility' has dtype float64"):
        write_one(tmp_path / "d", cfg, bad)
    bad = fake_arrays(j=15)
    with pytest.raises(DatasetError, match="shape"):
        write_one(tmp_path / "e", cfg, bad)


def test_reader_detects_tampering(tmp_path, tiny_preset):
    cfg = load_config(tiny_preset)
    write_one(tmp_path / "b", cfg, fake_arrays())
    path = next((tmp_path / "b" / "sequences").glob("*/arrays.npz"))
    path.write_bytes(path.read_bytes()[:-10])
    bench = open_benchmark(tmp_path / "b")
    with pytest.raises(DatasetError, match="sha256"):
        bench.load(bench.entries[0])
    (tmp_path / "b" / "manifest.json").write_text("{not json")
    with pytest.raises(DatasetError, match="manifest.json: not a readable JSON file"):
        open_benchmark(tmp_path / "b")


def test_refuses_directory_from_another_config(tmp_path, tiny_preset):
    cfg = load_config(tiny_preset)
    write_one(tmp_path / "b", cfg, fake_arrays())
    before = {p: p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    other = load_config(tiny_preset, seed=123)
    with pytest.raises(DatasetError, match="different configuration.*--overwrite"):
        BenchmarkWriter(tmp_path / "b", other)
    after = {p: p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert before == after  # nothing damaged
    write_one(tmp_path / "b", other, fake_arrays(), overwrite=True)
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["seed"] == 123


def test_incomplete_benchmark_is_reported(tmp_path, tiny_preset):
    cfg = load_config(tiny_preset)
    w = BenchmarkWriter(tmp_path / "b", cfg)
    assert w.finalize(["S1_walk_cam0_L000"])["status"] == "incomplete"
    with pytest.raises(DatasetError, match="incomplete.*resume"):
        open_benchmark(tmp_path / "b")
    assert len(open_benchmark(tmp_path / "b", allow_incomplete=True)) == 0


def test_sequence_id():
    assert sequence_id("S1", "walk", "cam0", 0.3) == "S1_walk_cam0_L030"
