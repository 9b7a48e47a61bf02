"""Occluder sources: user folders with clear errors, cut-outs of rendered occluders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from occpose.errors import OccposeError
from occpose.image.occluder_sources import FolderOccluders, RenderedOccluders, cut_out, load_cutout
from occpose.image.toy import write_toy_image_benchmark


def rgba_disc(size=40, radius=15, color=(200, 30, 30)) -> Image.Image:
    yy, xx = np.mgrid[:size, :size]
    arr = np.zeros((size, size, 4), np.uint8)
    arr[..., :3] = color
    arr[..., 3] = (((xx - size / 2) ** 2 + (yy - size / 2) ** 2) < radius ** 2) * 255
    return Image.fromarray(arr, "RGBA")


def test_folder_loads_and_crops_to_visible_part(tmp_path):
    rgba_disc().save(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    rgba_disc(60, 25, (0, 0, 255)).save(tmp_path / "sub" / "b.webp", lossless=True)
    (tmp_path / "LICENSE.txt").write_text("CC-BY")              # ignored: not an image suffix
    src = FolderOccluders(tmp_path)
    assert len(src) == 2
    assert src.cutouts[0].shape == (29, 29, 4)                   # cropped to the disc (r 15)
    assert src.sample(np.random.default_rng(0)).dtype == np.uint8


@pytest.mark.parametrize("name,make,message", [
    ("text.png", lambda p: p.write_text("not a picture"), "not an image"),
    ("rgb.png", lambda p: Image.new("RGB", (32, 32), (9, 9, 9)).save(p), "no alpha channel"),
    ("photo.jpg", lambda p: Image.new("RGB", (32, 32)).save(p), "no alpha channel"),
    ("clear.png", lambda p: Image.new("RGBA", (32, 32), (255, 0, 0, 0)).save(p), "fully transparent"),
    ("tiny.png", lambda p: rgba_disc(40, 2).save(p), "too small"),
    ("cut.png", lambda p: p.write_bytes(_png_bytes()[:60]), "unreadable|not an image"),
])
def test_bad_cutouts_name_the_file(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    with pytest.raises(OccposeError, match=message) as err:
        load_cutout(path)
    assert str(path) in str(err.value) and "expected" in str(err.value)
    with pytest.raises(OccposeError, match=name):
        FolderOccluders(tmp_path)


def _png_bytes() -> bytes:
    import io
    buf = io.BytesIO()
    rgba_disc(64, 30).save(buf, format="PNG")
    return buf.getvalue()


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(OccposeError, match="not found"):
        FolderOccluders(tmp_path / "nope")
    (tmp_path / "README.md").write_text("x")
    with pytest.raises(OccposeError, match="no image files"):
        FolderOccluders(tmp_path)


def test_cut_out_erodes_and_rejects_small_masks():
    img = np.zeros((20, 20, 3), np.uint8)
    img[..., 2] = 99
    mask = np.zeros((20, 20), bool)
    mask[5:15, 4:12] = True
    c = cut_out(img, mask, erode=1, min_pixels=10)
    assert c.shape == (8, 6, 4) and (c[..., 3] == 255).all() and (c[..., 2] == 99).all()
    assert cut_out(img, mask, erode=1, min_pixels=100) is None


def test_rendered_occluders_come_from_the_occluder_pixels(tmp_path):
    root = write_toy_image_benchmark(tmp_path / "toy", frames=4, size=96, levels=(0.0, 0.3))
    from occpose.dataset import open_benchmark
    bench = open_benchmark(root)
    entries = bench.select(split="train")
    src = RenderedOccluders.from_benchmark(bench, entries, np.random.default_rng(0), per_sequence=2,
                                           min_pixels=20)
    assert len(src) >= 2
    seq = bench.load(next(e for e in entries if e.target_level > 0))
    colors = np.round(seq.occluders().color * 255)
    for c in src.cutouts:                                        # every opaque pixel is a box colour
        px = c[..., :3][c[..., 3] > 0].astype(float)
        assert np.abs(px[:, None, :] - colors[None]).max(-1).min(-1).max() <= 1.0
    with pytest.raises(OccposeError, match="no rendered occluder"):
        RenderedOccluders.from_benchmark(bench, bench.select(split="train", levels=[0.0]),
                                         np.random.default_rng(0))
