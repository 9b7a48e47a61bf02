"""Build the demo .blend of docs/images/user_character_sheet.png: a small Mixamo-named box
character (the test rig of ``tests/test_blender_character.py``) walking sideways behind a wall
and a post of the collection "OccPose Occluders", seen by one camera.

Usage (from the repository root, with the bpy module):

    .venv/bin/python benchmark/demo_user_scene.py --out runs/demo/scene.blend
    # (or blender -b --factory-startup -P benchmark/demo_user_scene.py -- --out ...; a .blend
    # saved by a newer Blender may crash an older one)
    blender -b runs/demo/scene.blend -P benchmark/render_bench.py -- --scene-character TestRig \
        --occluders "OccPose Occluders" --stride 4 --out runs/demo/bench
    # or, with the bpy module: .venv/bin/python benchmark/demo_user_scene.py --out ... --bench DIR
    occpose-bench sheet runs/demo/bench --sequence TestRig_TestRigAction_TestCam_L000 \
        --frames 6 --columns 6 --size 200
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def build(out: Path) -> None:
    import bpy

    from tests.test_blender_character import camera_object, make_character
    from tests.test_blender_user_scene import cube_object, user_collection

    scene = bpy.context.scene
    arm, body = make_character(scene)
    for t in range(24):  # walks sideways across the wall
        arm.location = (-0.8 + 0.07 * t, 0.0, 0.0)
        arm.keyframe_insert("location", frame=t)
    camera_object(scene)
    scene.frame_start, scene.frame_end = 0, 23
    coll = user_collection("OccPose Occluders")
    scene.collection.children.link(coll)
    wall = cube_object("wall", coll, 1.0)
    wall.scale, wall.location = (0.25, 0.05, 0.5), (0.0, -1.2, 0.5)
    post = cube_object("post", coll, 1.0)
    post.scale, post.location = (0.05, 0.05, 1.0), (0.6, -0.8, 1.0)
    for obj, rgb in ((body, (0.8, 0.55, 0.4)), (wall, (0.2, 0.35, 0.8)), (post, (0.7, 0.7, 0.2))):
        mat = bpy.data.materials.new(obj.name)
        mat.diffuse_color = (*rgb, 1.0)
        obj.data.materials.append(mat)
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.color_type, scene.display.shading.light = "MATERIAL", "STUDIO"
    scene.world.color = (0.05, 0.05, 0.05)
    scene.render.resolution_x = scene.render.resolution_y = 240
    out.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(out))


def main() -> int:
    p = argparse.ArgumentParser(description="Build the user-scene demo .blend")
    p.add_argument("--out", required=True, type=Path, help=".blend file to write")
    p.add_argument("--bench", help="then render its benchmark into this folder (bpy module)")
    argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    args = p.parse_args(argv)
    sys.path.insert(0, str(REPO))
    build(args.out.resolve())
    if args.bench:
        from blender_addon.character_bench import main as bench

        return bench(["--scene-character", "TestRig", "--occluders", "OccPose Occluders",
                      "--stride", "4", "--out", args.bench])
    return 0


if __name__ == "__main__":
    sys.exit(main())
