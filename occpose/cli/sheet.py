"""``occpose-bench sheet``: a contact sheet of rendered frames (Blender backend).

Usage::

    occpose-bench sheet runs/quick-blender                    # one tile per sequence
    occpose-bench sheet runs/quick-blender --sequence S1_walk_cam0_L030 --frames 12 --out sheet.png

Each tile is a rendered frame (``sequences/<id>/frames/NNNNNN.png``) with the 2D skeleton on
top, joints coloured by their ray-cast state: visible green, occluded by the body orange, by an
object red, out of frame grey. Without ``--sequence`` the sheet shows the middle rendered frame
of up to ``--frames`` sequences (spread over the benchmark, so all levels appear); with it,
``--frames`` rendered frames of that sequence. Captions give the frame number, its occluder
fraction (``occ``, ray casts) and, when present, its visible-mask fraction (``vis``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import DatasetError
from .common import add_doc_parser, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = add_doc_parser(sub, "sheet", "contact sheet of rendered frames with joints by state (PNG)", __doc__)
    p.add_argument("dir", metavar="DIR", help="benchmark directory with rendered frames")
    p.add_argument("--sequence", metavar="ID", help="one sequence's frames (default: one tile per sequence)")
    p.add_argument("--frames", type=positive_int, default=12, metavar="N", help="tiles (default 12)")
    p.add_argument("--columns", type=positive_int, default=None, metavar="C", help="tiles per row")
    p.add_argument("--size", type=positive_int, default=256, metavar="PX", help="tile size (default 256)")
    p.add_argument("--out", default=None, metavar="PNG", help="output file (default: DIR/contact_sheet.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.dir) / "contact_sheet.png"
    print(write_sheet(args.dir, out, args.sequence, args.frames, args.columns, args.size))
    return 0


def _spread(items: list, n: int) -> list:
    """Up to ``n`` items evenly spaced over ``items`` (first and last included)."""
    import numpy as np

    if len(items) <= n:
        return list(items)
    return [items[i] for i in np.unique(np.linspace(0, len(items) - 1, n).round().astype(int))]


def make_sheet(bench_dir, sequence: str | None = None, n_tiles: int = 12, columns: int | None = None,
               size: int = 256):
    """The contact sheet as a PIL image (see the module docstring)."""
    import numpy as np
    from PIL import Image

    from ..dataset import frame_path, open_benchmark
    from ..viz import contact_sheet, joint_states, render_frame

    bench = open_benchmark(bench_dir, allow_incomplete=True)
    entries = [e for e in bench.entries if e.extra.get("rendered_frames", 0) > 0]
    if sequence is not None:
        entries = [e for e in bench.entries if e.id == sequence]
        if not entries:
            raise DatasetError(f"--sequence {sequence!r}: not in {bench_dir}")
    if not entries or not any(e.extra.get("rendered_frames", 0) for e in entries):
        raise DatasetError(f"{bench_dir}: no rendered frames; render the benchmark with the Blender "
                           f"backend (occpose-bench generate --backend blender)")
    picks = []  # (entry, loaded sequence, its joint states, frame): each sequence loaded once
    if sequence is None:
        for e in _spread(entries, n_tiles):
            seq = bench.load(e)
            frames = np.flatnonzero(seq.rendered)
            picks.append((e, seq, joint_states(seq.arrays), int(frames[len(frames) // 2])))
    else:
        seq = bench.load(entries[0])
        states = joint_states(seq.arrays)
        frames = np.flatnonzero(seq.rendered)
        picks = [(entries[0], seq, states, int(t)) for t in _spread(list(frames), n_tiles)]
    tiles, titles = [], []
    for e, seq, states, t in picks:
        cam = bench.cameras[e.camera]
        image = _rendered_frame(bench.root / frame_path(e.id, t))
        tiles.append(render_frame(seq.arrays["joints_2d"][t], states[t], bench.skeleton,
                                  cam, image=image, max_size=size))
        mask = seq.arrays.get("mask_visible_fraction")
        caption = f"t{t} occ {seq.arrays['occluder_fraction'][t]:.2f}"
        caption += f" vis {mask[t]:.2f}" if mask is not None else ""
        where = f"{e.subject} {e.action} {e.camera} L{round(100 * e.target_level):02d} "
        titles.append(caption if sequence else where + caption)
    heading = (f"{Path(bench_dir).name}: {sequence or f'{len(picks)} of {len(bench.entries)} sequences'}"
               f"  (occ: joints hidden by objects; vis: visible fraction of the subject mask)")
    return contact_sheet(tiles, titles, columns=columns, title=heading, legend=True)


def _rendered_frame(path: Path):
    """The RGB image of a frame the arrays mark as rendered; DatasetError naming it otherwise."""
    from PIL import Image

    if not path.is_file():
        raise DatasetError(f"{path}: rendered frame is missing (the sequence's 'rendered' array "
                           f"lists it); rerun the render to restore it")
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"{path}: unreadable rendered frame ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else 'corrupt'})") from None


def write_sheet(bench_dir, out, sequence: str | None = None, n_tiles: int = 12, columns: int | None = None,
                size: int = 256) -> Path:
    """Write the contact sheet PNG atomically; returns its path."""
    from ..dataset.atomic import atomic_path

    sheet = make_sheet(bench_dir, sequence, n_tiles, columns, size)
    out = Path(out)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out
