"""occpose-bench verify: a benchmark's test split against a published checksum list."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from occpose import _openblas
from occpose.cli import main
from occpose.verify import read_list, standard_list_path

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def generated(tiny_preset, tmp_path):
    out = tmp_path / "a"
    assert main(["generate", "--config", str(tiny_preset), "--out", str(out), "--quiet",
                 "--workers", "1"]) == 0
    return out


def test_verify_passes_on_a_fresh_generate_and_fails_on_one_byte(generated, tiny_preset, tmp_path, capsys):
    listing = tmp_path / "tiny.test.sha256"
    assert main(["verify", str(generated), "--write-list", str(listing), "--name", "tiny"]) == 0
    entries = read_list(listing)
    assert len(entries) == 4 and all(p.endswith("arrays.npz") and "/S4_" in p for p in entries)
    assert listing.read_text().startswith("# occpose standard tiny, split test, 4 files")
    # a second, independent generate has the listed bytes
    again = tmp_path / "b"
    assert main(["generate", "--config", str(tiny_preset), "--out", str(again), "--quiet",
                 "--workers", "1"]) == 0
    capsys.readouterr()
    assert main(["verify", str(again), "--list", str(listing)]) == 0
    assert "all 4 test-split files match" in capsys.readouterr().out
    # one byte changed: named, exit 2, one line
    victim = again / sorted(entries)[2]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    assert main(["verify", str(again), "--list", str(listing)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(victim) in err and "differs from the list" in err and "\n" not in err
    assert "docs/standard.md" in err           # points at the CPU-dependence of the bytes
    # a missing file, and a list that does not match the split
    victim.unlink()
    assert main(["verify", str(again), "--list", str(listing)]) == 2
    assert "is missing" in capsys.readouterr().err
    short = tmp_path / "short.sha256"
    short.write_text("".join(f"{d}  {p}\n" for p, d in sorted(entries.items())[1:]))
    assert main(["verify", str(generated), "--list", str(short)]) == 2
    assert "not in the list" in capsys.readouterr().err


def test_verify_bad_lists(generated, tmp_path, capsys):
    assert main(["verify", str(generated)]) == 2                      # 'tiny' has no published list
    assert "no published checksum list for benchmark 'tiny'" in capsys.readouterr().err
    bad = tmp_path / "bad.sha256"
    bad.write_text("abc  ../../etc/passwd\n")
    assert main(["verify", str(generated), "--list", str(bad)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_the_standard_list_is_packaged_and_published():
    import hashlib

    packaged = standard_list_path("standard-v1")
    published = REPO / "docs" / "standard-v1.test.sha256"
    assert packaged.read_bytes() == published.read_bytes()
    listing = read_list(packaged)
    assert len(listing) == 56 * 6 * 2 * 6                 # test subjects x actions x cameras x levels
    assert all(p.startswith("sequences/") and p.endswith("/arrays.npz") for p in listing)
    doc = (REPO / "docs" / "standard.md").read_text()
    assert hashlib.sha256(packaged.read_bytes()).hexdigest() in doc


def _reference_env() -> dict:
    return {**os.environ, "OPENBLAS_CORETYPE": _openblas.REFERENCE_CORETYPE}


@pytest.mark.skipif(not _openblas.reference_capable(),
                    reason="standard-v1's bytes need an x86-64 CPU with AVX-512 (docs/standard.md)")
def test_a_fresh_generate_still_gives_the_standard_bytes(tmp_path):
    """Guards the published list: one (subject, action) clip of standard-v1's test split, all
    cameras and levels, regenerated now must have the listed sha256 (a change of the generator's
    output means a new standard, not a silently different one). Generated in a child process with
    the reference OpenBLAS kernels, whatever this environment's OPENBLAS_CORETYPE says (they
    change the bytes: docs/standard.md)."""
    import hashlib

    from occpose.config import load_config

    cfg = load_config(REPO / "scenes" / "standard.toml")
    groups = len(cfg.benchmark.train_subjects + cfg.benchmark.test_subjects) * len(cfg.benchmark.actions)
    subprocess.run([sys.executable, "-m", "occpose", "generate", "--config",
                    str(REPO / "scenes" / "standard.toml"), "--out", str(tmp_path / "std"),
                    "--shard", f"{groups - 1}/{groups}", "--workers", "1", "--quiet"],
                   check=True, env=_reference_env(), capture_output=True)
    listing = read_list(standard_list_path("standard-v1"))
    made = sorted((tmp_path / "std").glob("sequences/*/arrays.npz"))
    assert len(made) == 12 and all(p.parent.name.startswith("S59_sit_down_") for p in made)
    for p in made:
        rel = p.relative_to(tmp_path / "std").as_posix()
        assert hashlib.sha256(p.read_bytes()).hexdigest() == listing[rel], rel
