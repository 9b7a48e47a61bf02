"""Shared fixtures: small presets written to tmp dirs, seeded generators."""

from __future__ import annotations

import textwrap
from pathlib import Path

import occpose  # noqa: F401  (first: it pins OpenBLAS's kernels before numpy loads them)
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

TINY_PRESET = """
include = ["{scenes}/subjects.toml"]

[benchmark]
name = "tiny"
seed = 7
frames = 40
fps = 50.0
area_radius = 1.0
actions = ["walk", "box"]
levels = [0.0, 0.2]
train_subjects = ["S1"]
test_subjects = ["S4"]

[[cameras]]
name = "cam0"
position = [3.6, 3.4, 1.6]
target = [0.0, 0.0, 1.0]
size = [1000, 1000]
focal = [1145.0, 1145.0]
"""


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def write_preset(tmp_path):
    """Write a preset text to tmp_path/name and return its path."""

    def _write(text: str, name: str = "preset.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return _write


@pytest.fixture
def tiny_preset(write_preset) -> Path:
    """A 2-action, 2-level, 1-camera, 2-subject preset with 40-frame sequences."""
    return write_preset(TINY_PRESET.format(scenes=REPO / "scenes"), "tiny.toml")


@pytest.fixture
def one_torch_thread():
    """Tiny torch models: one thread is as fast, and `pytest -n 2` on 2 cores does not
    oversubscribe. Modules opt in with ``pytestmark = pytest.mark.usefixtures(...)``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
