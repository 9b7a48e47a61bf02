"""``occpose-bench show``: look at a sequence.

Usage::

    occpose-bench show runs/quick                          # first sequence, 6 frames, into .
    occpose-bench show runs/quick --sequence S1_walk_cam0_L030 --frames 9 --out figs/

Writes ``<id>_frames.png`` (a grid of frames with the 2D skeleton, joints coloured by state:
visible green, occluded by the body orange, by an object red, out of frame grey; over the
rendered frame when ``sequences/<id>/frames/NNNNNN.png`` exists, else over the occluders'
projected silhouettes) and ``<id>_3d.png`` (skeleton along its path, floor, camera, occluders).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DatasetError
from .common import add_doc_parser, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "show", "draw a sequence: frame grid and 3D overview (PNG)", __doc__)
    p.add_argument("dir", metavar="DIR", help="benchmark directory")
    p.add_argument("--sequence", metavar="ID", help="sequence id (default: the first)")
    p.add_argument("--frames", type=positive_int, default=6, metavar="N",
                   help="frames in the grid, evenly spaced (default 6)")
    p.add_argument("--out", default=".", metavar="DIR", help="folder for the PNGs (default: .)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in show_sequence(args.dir, args.sequence, args.frames, args.out):
        print(path)
    return 0


def show_sequence(bench_dir, sequence: str | None = None, n_frames: int = 6, out=".") -> list[Path]:
    """Write the frame grid and the 3D plot of one sequence; returns their paths."""
    import numpy as np

    from ..dataset import open_benchmark
    from ..dataset.atomic import atomic_path
    from ..dataset import frame_path
    from ..viz import contact_sheet, joint_states, plot_sequence_3d, render_frame

    bench = open_benchmark(bench_dir)
    if not bench.entries:
        raise DatasetError(f"{bench_dir}: has no sequences")
    if sequence is not None and sequence not in {e.id for e in bench.entries}:
        ids = [e.id for e in bench.entries]
        raise DatasetError(f"--sequence {sequence!r}: not in {bench_dir} (ids like {', '.join(ids[:4])}"
                           f"{', ...' if len(ids) > 4 else ''})")
    seq = bench.load(sequence or bench.entries[0].id)
    e, cam = seq.entry, bench.cameras[seq.entry.camera]
    try:
        occluders = seq.occluders()
    except ValueError as err:
        raise DatasetError(f"{bench.root / e.path}: occluder arrays: {err}") from None
    states = joint_states(seq.arrays)
    frames = np.unique(np.linspace(0, e.frames - 1, min(n_frames, e.frames)).round().astype(int))
    tiles, rendered = [], 0
    for t in frames:
        image = _load_frame(bench.root / frame_path(e.id, int(t)))
        rendered += image is not None
        tiles.append(render_frame(seq.arrays["joints_2d"][t], states[t], bench.skeleton, cam,
                                  image=image, occluders=occluders, frame=int(t)))
    occ = seq.arrays["occluder_fraction"][frames]
    titles = [f"frame {t}  occluder fraction {o:.2f}" for t, o in zip(frames, occ)]
    heading = (f"{e.id}  target level {e.target_level:.2f}  achieved {e.achieved_level:.2f}  "
               f"self-occlusion {e.self_occlusion:.2f}  ({rendered}/{len(frames)} rendered frames)")
    sheet = contact_sheet(tiles, titles, columns=min(3, len(tiles)), title=heading, legend=True)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DatasetError(f"--out {out}: exists and is not a directory")
    paths = [out / f"{e.id}_frames.png", out / f"{e.id}_3d.png"]
    with atomic_path(paths[0]) as tmp:
        sheet.save(tmp, format="PNG")
    fig = plot_sequence_3d(seq.arrays["joints_3d_world"], bench.skeleton, cam, occluders,
                           title=f"{e.id} (world frame, metres)")
    with atomic_path(paths[1]) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return paths


def _load_frame(path: Path):
    if not path.is_file():
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: unreadable rendered frame ({e})") from None
