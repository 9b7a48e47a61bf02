"""Render an occpose benchmark with Blender: ray-cast labels, RGB frames, visible-subject masks.

Usage (from the repository root):

    # the Blender executable (3.4+): arguments after "--"
    blender -b --factory-startup --python-exit-code 1 -P benchmark/render_bench.py -- \
        --config scenes/quick.toml --out runs/quick-blender [--seed N] [--set K=V] \
        [--shard i/N] [--overwrite] [--engine cycles|workbench|eevee] [--device cpu|gpu]

    # plain Python with the bpy module (pip install 'occpose[blender]')
    .venv/bin/python benchmark/render_bench.py --config scenes/quick.toml --out runs/quick-blender

    # your .blend: your objects occlude (a collection), with occpose's cylinder-man and occluders
    blender -b scene.blend -P benchmark/render_bench.py -- --config scenes/quick.toml \
        --occluders "OccPose Occluders" --out runs/mine

    # your .blend: your rigged character, your occluders, your cameras and frames
    blender -b scene.blend -P benchmark/render_bench.py -- --scene-character Armature \
        --occluders "OccPose Occluders" --out runs/mine-character [--camera Camera] \
        [--frames 1:120] [--stride 10] [--rig auto|rigify|mixamo] [--mapping rig.toml]

    # shards on several machines, then one benchmark
    blender -b -P benchmark/render_bench.py -- --config scenes/quick.toml --out runs/s0 --shard 0/2
    blender -b -P benchmark/render_bench.py -- --config scenes/quick.toml --out runs/s1 --shard 1/2
    occpose-bench merge runs/quick-blender runs/s0 runs/s1

Reruns resume (completed sequences are skipped). Exit status: 0 complete, 1 failed or
incomplete, 2 a user mistake (bad preset, flag or output folder; one line on stderr). Under the
Blender executable the script exits with that status itself; ``--python-exit-code 1`` also
makes Blender fail on errors raised before the script gets control.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IN_BLENDER = "bpy" in sys.modules  # the Blender executable imports bpy before running -P scripts


def arguments() -> list[str]:
    if IN_BLENDER:
        return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    return sys.argv[1:]


def main() -> int:
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # Blender's own Python has numpy but not occpose
    if not IN_BLENDER and importlib.util.find_spec("bpy") is None:
        print("render_bench.py: error: needs Blender: run `blender -b -P benchmark/render_bench.py "
              "-- --config ...` or install the bpy module (pip install 'occpose[blender]')",
              file=sys.stderr)
        return 2
    args = arguments()
    if any(a == "--scene-character" or a.startswith("--scene-character=") for a in args):
        from blender_addon.character_bench import main as run_scene  # your own scene

        return run_scene(args)
    from blender_addon.pipeline import main as run

    return run(args)


if __name__ == "__main__":
    try:
        code = main()
    except SystemExit:
        raise
    except BaseException:  # a failed render must fail the command, also under Blender
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.exit(code)
