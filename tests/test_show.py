"""``occpose-bench show`` and the reusable drawing functions of occpose.viz."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from occpose.cli import main
from occpose.skeleton import H36M_17
from occpose.viz import (OCCLUDED_BODY, OCCLUDED_OBJECT, OUT_OF_FRAME, STATE_COLORS, VISIBLE,
                         contact_sheet, draw_skeleton_2d, joint_states)

from .test_interop_videopose3d import make_fake_benchmark


@pytest.fixture
def bench(tmp_path):
    make_fake_benchmark(tmp_path / "bench", frames=10, levels=(0.3,))
    return tmp_path / "bench"


def _has_color(img: Image.Image, rgb, tol=12) -> bool:
    a = np.asarray(img.convert("RGB")).astype(int)
    return bool((np.abs(a - rgb).max(axis=-1) <= tol).any())


def test_show_writes_frame_grid_and_3d_plot(bench, tmp_path, capsys):
    out = tmp_path / "figs"
    assert main(["show", str(bench), "--sequence", "S1_walk_cam0_L030", "--frames", "4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(out / "S1_walk_cam0_L030_frames.png"), str(out / "S1_walk_cam0_L030_3d.png")]
    grid = Image.open(printed[0])
    assert grid.width > 2 * 480 and grid.height > 2 * 400  # 3 + 1 tiles of up to 480 px
    assert _has_color(grid, STATE_COLORS[VISIBLE]) and _has_color(grid, STATE_COLORS[OCCLUDED_OBJECT])
    plot = Image.open(printed[1])
    assert plot.size[0] > 500 and len(np.unique(np.asarray(plot.convert("L")))) > 20


def test_show_draws_over_rendered_frames(bench, tmp_path, capsys):
    frames = bench / "sequences/S4_walk_cam2_L030/frames"
    frames.mkdir(parents=True)
    for t in range(10):
        Image.new("RGB", (1000, 1000), (20, 40, 200)).save(frames / f"{t:06d}.png")
    assert main(["show", str(bench), "--sequence", "S4_walk_cam2_L030", "--out", str(tmp_path)]) == 0
    grid = Image.open(tmp_path / "S4_walk_cam2_L030_frames.png")
    assert _has_color(grid, (20, 40, 200), tol=2)


def test_show_errors_are_one_line(bench, tmp_path, capsys):
    assert main(["show", str(bench), "--sequence", "S9_run_cam0_L000", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--sequence 'S9_run_cam0_L000': not in" in err and len(err.strip().splitlines()) == 1
    assert main(["show", str(tmp_path / "none")]) == 2
    assert "manifest.json: not found" in capsys.readouterr().err


def test_draw_skeleton_on_images_and_axes():
    joints = np.array([[50 + 5 * j, 20 + 8 * j] for j in range(17)], dtype=float)
    states = np.array([VISIBLE, OCCLUDED_BODY, OCCLUDED_OBJECT, OUT_OF_FRAME] * 4 + [VISIBLE])
    img = draw_skeleton_2d(np.zeros((200, 200, 3), np.uint8), joints, states, H36M_17)
    for s in (VISIBLE, OCCLUDED_BODY, OCCLUDED_OBJECT, OUT_OF_FRAME):
        assert _has_color(img, STATE_COLORS[s], tol=0)
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    draw_skeleton_2d(ax, joints, states, H36M_17)
    assert len(ax.lines) == len(H36M_17.bones) and len(ax.collections) == 1
    sheet = contact_sheet([img] * 5, titles=list("abcde"), columns=2, title="t", legend=True)
    assert sheet.width == 2 * 206 + 6 and sheet.height > 3 * 200


def test_joint_states_priority():
    z = np.zeros((1, 4), bool)
    arrays = {"occluded": np.array([[0, 1, 1, 1]], bool), "occluded_by_body": np.array([[0, 1, 0, 0]], bool),
              "occluded_by_object": np.array([[0, 0, 1, 0]], bool), "out_of_frame": z.copy()}
    arrays["out_of_frame"][0, 3] = True
    assert joint_states(arrays).tolist() == [[VISIBLE, OCCLUDED_BODY, OCCLUDED_OBJECT, OUT_OF_FRAME]]
