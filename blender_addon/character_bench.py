"""Your own scene as an occpose benchmark: your character, your occluders, your cameras.

Command line (``benchmark/render_bench.py --scene-character ...`` comes here)::

    blender -b scene.blend --python-exit-code 1 -P benchmark/render_bench.py -- \\
        --scene-character ARMATURE --out DIR [--occluders COLLECTION] [--camera NAME ...] \\
        [--frames START:END] [--stride N] [--level L ...] [--rig auto|rigify|mixamo] \\
        [--mapping rig.toml] [--character-mesh NAME ...] [--config TOML] [--overwrite] [--quiet]

One sequence per camera (default: the scene camera) over the frame range (default: the
scene's): subject = the armature's name, action = its action's name (else the scene's),
camera = the camera object's name, level 0 (nothing is placed: your scene is what it is; the
achieved level is measured). ``--level L`` (repeatable) adds a sequence per camera in which
occpose's occluders are placed so that a fraction L of the joints is hidden by objects (yours
included), measured by the same mesh-body ray casts; they are rendered and stored too. Labels come from the mesh-body definition
(:mod:`occpose.occlusion.raycast.mesh_body`) on the evaluated skinned mesh, with your occluders
stored as MESH occluders. Every ``--stride``-th frame is rendered with the scene's own render
settings (engine, samples, resolution; PNG), and every frame gets its visible-subject mask
fraction from per-pixel ray casts against the character mesh and the occluders. The character's
posed mesh, parts, own parts, radii and tolerances go to ``sequences/<id>/body_mesh.npz``
(``mesh_body.body_mesh_arrays``; entry ``extra.body_mesh`` and its sha256), so the labels are
re-derivable from the files. The preset
(``--config``, default the bundled quick.toml) supplies the visibility parameters, heuristics and
skeleton layout; the manifest's ``scene`` field records the .blend, character, mapping,
occluder collection and frames. Reruns resume; exit status 0 complete, 1 incomplete, 2 a
user mistake (one line on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import sys
import time
from pathlib import Path

import bpy
import numpy as np

from occpose.config import load_config
from occpose.dataset import BenchmarkWriter, write_npz
from occpose.errors import ConfigError, OccposeError
from occpose.generate import SequenceKey, sequence_record, visibility_params
from occpose.occlusion.occluders.geometry import OccluderSet
from occpose.occlusion.raycast import mesh_body

from . import bridge, character, compat, distortion, pngio, render, user_scene
from .properties import default_preset

PROG = "render_bench"


def safe_name(name: str) -> str:
    """A name usable in sequence ids and paths (letters, digits and '-')."""
    return re.sub(r"[^A-Za-z0-9-]+", "-", name).strip("-") or "x"


def parse_frames(text: str | None, scene) -> range:
    if not text:
        return range(scene.frame_start, scene.frame_end + 1)
    try:
        start, end = (int(x) for x in text.split(":"))
    except ValueError:
        raise ConfigError(f"--frames {text!r}: expected START:END (inclusive), e.g. 1:120") from None
    if end < start:
        raise ConfigError(f"--frames {text!r}: END must not be before START")
    return range(start, end + 1)


def scene_cameras(scene, names) -> list:
    if not names:
        if scene.camera is None:
            raise ConfigError(f"scene {scene.name!r} has no active camera; add one or pass --camera NAME")
        return [scene.camera]
    cams = []
    for name in names:
        obj = bpy.data.objects.get(name)
        if obj is None or obj.type != "CAMERA":
            raise ConfigError(f"--camera {name!r}: no camera object of that name")
        cams.append(obj)
    return cams


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Label and render your own Blender scene "
                                "(character + occluders) as an occpose benchmark.")
    p.add_argument("--scene-character", required=True, metavar="ARMATURE", help="your character's armature")
    p.add_argument("--character-mesh", action="append", default=[], metavar="NAME",
                   help="its mesh objects (repeatable; default: every mesh the armature deforms)")
    p.add_argument("--rig", choices=("auto", "rigify", "mixamo"), default="auto", help="bone naming")
    p.add_argument("--mapping", metavar="TOML", help="bone-to-joint mapping file (overrides --rig)")
    p.add_argument("--out", required=True, metavar="DIR", help="output benchmark directory")
    user_scene.add_arguments(p)
    p.add_argument("--camera", action="append", default=[], metavar="NAME",
                   help="camera object (repeatable; default: the scene camera)")
    p.add_argument("--frames", metavar="START:END", help="frame range (default: the scene's)")
    p.add_argument("--level", type=float, action="append", default=[], metavar="L",
                   help="also place occpose's occluders so that a fraction L of the joints is hidden "
                        "by objects (yours included); repeatable; default: none (level 0)")
    p.add_argument("--stride", type=int, default=1, metavar="N", help="render every N-th frame (0: none)")
    p.add_argument("--config", metavar="TOML", help="preset for visibility, heuristics, skeleton "
                   "(default: the bundled quick.toml)")
    p.add_argument("--overwrite", action="store_true", help="replace a benchmark made differently")
    p.add_argument("--quiet", action="store_true", help="no per-sequence lines")
    return p


def render_scene_benchmark(args: argparse.Namespace, scene=None) -> dict:
    """Label (and render) the scene per camera into ``args.out``; returns the manifest."""
    scene = scene or bpy.context.scene
    if args.stride < 0:
        raise ConfigError(f"--stride {args.stride}: expected 0 (no renders) or a positive integer")
    frames = parse_frames(args.frames, scene)
    char = character.find_character(args.scene_character, args.character_mesh, args.mapping, args.rig)
    cams = scene_cameras(scene, args.camera)
    arm = char.armature
    action = arm.animation_data.action.name if arm.animation_data and arm.animation_data.action else scene.name
    subject, action = safe_name(arm.name), safe_name(action)
    coll = user_scene.find_collection(scene, args.occluders) if args.occluders else None
    occ = user_scene.read_occluders(scene, coll, len(frames), frames.start) if coll else OccluderSet.empty(len(frames))
    clip = character.read_clip(scene, char, frames)
    clip.joints_world = clip.joints_world.astype(np.float32).astype(np.float64)  # as stored
    clip.vertices_world = clip.vertices_world.astype(np.float32).astype(np.float64)  # as stored
    cameras = []
    for cam in cams:
        scene.camera = cam
        compat.view_layer_depsgraph(scene).update()
        cameras.append(dataclasses.replace(bridge.camera_from_scene(scene), name=safe_name(cam.name)))
    # the scene's content is part of the benchmark's identity: a changed scene is a new benchmark
    digest = hashlib.sha256()
    for part in (clip.joints_world, clip.vertices_world, clip.faces, *occ.to_arrays().values()):
        digest.update(np.ascontiguousarray(part).tobytes())
    digest.update(json.dumps([[c.to_dict() for c in cameras], args.stride, scene.render.engine,
                              sorted(args.level)]).encode())
    name = safe_name(f"{Path(bpy.data.filepath).stem or 'scene'}-{subject}-{digest.hexdigest()[:12]}")
    cfg = load_config(args.config or default_preset(),
                      [f"benchmark.frames={len(frames)}", f'benchmark.name="{name}"'])
    params = visibility_params(cfg)
    body = clip.mesh_body(params)
    info = {"engine": scene.render.engine, "blender": bpy.app.version_string,
            "resolution": [cameras[0].width, cameras[0].height], "frame_stride": args.stride}
    extra = {"cameras": [c.to_dict() for c in cameras], "renderer": info,
             "scene": {"blend": bpy.data.filepath, "scene": scene.name, "character": arm.name,
                       "meshes": [m.name for m in char.meshes], "mapping": char.mapping_name,
                       "occluders": coll.name if coll else None, "frames": [frames.start, frames.stop - 1],
                       "body": "mesh (occpose.occlusion.raycast.mesh_body)"}}
    writer = BenchmarkWriter(args.out, cfg, overwrite=args.overwrite, backend="blender", extra=extra)
    levels = args.level or [0.0]
    bad = [lv for lv in levels if not 0.0 <= lv < 1.0]
    if bad:
        raise ConfigError(f"--level {bad[0]}: expected a fraction in [0, 1)")
    keys = [SequenceKey(subject, action, c.name, float(lv)) for c in cameras for lv in levels]
    cams = [cam for cam in cams for _ in levels]
    cameras = [c for c in cameras for _ in levels]
    out_settings = scene.render  # file output only; the look stays the scene's
    out_settings.use_file_extension, out_settings.use_overwrite = False, True
    out_settings.image_settings.file_format = "PNG"
    out_settings.image_settings.color_mode, out_settings.image_settings.color_depth = "RGB", "8"
    for cam_obj, camera, key in zip(cams, cameras, keys):
        if writer.completed_entry(key.id) is not None:
            continue
        t0 = time.perf_counter()
        scene.camera = cam_obj
        entry, arrays = _sequence(scene, cfg, key, camera, clip, body, occ, frames, params,
                                  writer.sequence_dir(key.id), args.stride)
        writer.write_sequence(entry, arrays)
        if not args.quiet:
            x = entry.extra
            print(f"{entry.id}: hidden by objects {entry.achieved_level:.3f}, by the body "
                  f"{entry.self_occlusion:.3f}, {x['rendered_frames']}/{entry.frames} frames rendered, "
                  f"mask occlusion {x['mask_occlusion']:.3f}, {time.perf_counter() - t0:.1f} s", flush=True)
    return writer.finalize([k.id for k in keys])


def _sequence(scene, cfg, key, camera, clip, body, occ, frames, params, folder, stride):
    from occpose.camera import world_to_camera

    joints_cam = world_to_camera(clip.joints_world, camera).astype(np.float32).astype(np.float64)  # as stored
    verts_cam = world_to_camera(clip.vertices_world, camera)
    user_cam = occ.in_camera_frame(camera) if occ.num_primitives else None
    steps, placed = 0, None
    if key.level > 0:
        placed = place_character_occluders(scene, cfg, key, clip, body, camera, user_cam, params, frames.start)
        lab, steps = placed.labels, placed.steps
        occ = placed.occluders.concat(occ)
    else:
        lab = mesh_body.label_mesh_body(joints_cam, verts_cam, body, camera, user_cam, params)
    occ_cam = occ.in_camera_frame(camera) if occ.num_primitives else None
    dirs = distortion.pixel_rays(camera)
    n_t = len(frames)
    rendered = np.zeros(n_t, bool)
    if stride:
        rendered[::stride] = True
    fraction = np.ones(n_t, np.float32)
    for t, frame in enumerate(frames):
        visible, subject = mesh_body.mesh_masks(verts_cam[t], body.faces, dirs,
                                                occ_cam.select_frames(t) if occ_cam is not None else None)
        n = int(subject.sum())
        fraction[t] = visible.sum() / n if n else 1.0
        if rendered[t]:
            scene.frame_set(frame)
            render.render_frame(scene, folder / "frames" / f"{t:06d}.png")
            pngio.write_png(folder / "masks" / f"{t:06d}.png", visible.astype(np.uint8) * 255)
    if placed is not None:
        bridge.clear(scene, (bridge.OCCLUDERS,))
    mesh_sha = write_npz(folder / mesh_body.BODY_MESH_FILE, mesh_body.body_mesh_arrays(clip.vertices_world, body))
    return sequence_record(cfg, key, clip.joints_world, camera, lab, occ, steps,
                           extra_arrays={"mask_visible_fraction": fraction, "rendered": rendered},
                           extra={"rendered_frames": int(rendered.sum()),
                                  "mask_occlusion": round(float(1.0 - fraction.mean()), 6),
                                  "first_frame": frames.start,
                                  "body_mesh": f"sequences/{key.id}/{mesh_body.BODY_MESH_FILE}",
                                  "body_mesh_sha256": mesh_sha})


def place_character_occluders(scene, cfg, key, clip, body, camera, user_cam, params, start: int):
    """occpose's occluders for ``key.level`` around the character (measured with the mesh-body
    labels, the user's occluders included), built as objects keyed from Blender frame ``start``."""
    from occpose.rng import key_rng

    from . import appearance, scenery

    seed = cfg.benchmark.seed
    placed = mesh_body.place_occluders_on_mesh(
        clip.joints_world, clip.vertices_world, body, camera, key.level,
        key_rng(seed, "occluders", key.subject, key.action, key.camera, key.level), cfg.occluders, params,
        scene_occluders_cam=user_cam, sequence=key.id, fps=scene.render.fps / scene.render.fps_base,
        base_dir=Path(cfg.source).parent)
    bridge.clear(scene, (bridge.OCCLUDERS,))
    occ = placed.occluders
    objs = bridge.build_occluders(scene, occ)
    textures = appearance.sample_occluder_textures(
        key_rng(seed, "appearance", key.subject, key.action, key.camera, key.level), occ.num_primitives,
        cfg.render.randomize)
    scenery.paint_occluders(objs, occ.color, textures)
    shift_keys(objs, start)
    return placed


def shift_keys(objs, start: int) -> None:
    """Move the keyframes of ``objs`` (keyed at frames 0..T-1) to start at Blender frame ``start``."""
    if not start:
        return
    for obj in objs:
        action = obj.animation_data.action if obj.animation_data else None
        if action is None:
            continue
        try:
            curves = list(action.fcurves)
        except AttributeError:  # Blender 5.0: slotted actions only
            curves = [fc for layer in action.layers for strip in layer.strips
                      for bag in strip.channelbags for fc in bag.fcurves]
        for fc in curves:
            for point in fc.keyframe_points:
                for attr in ("co", "handle_left", "handle_right"):
                    getattr(point, attr)[0] += start
            fc.update()


def main(argv: list[str] | None = None) -> int:
    """Parse, label and render; exit status 0 complete, 1 incomplete, 2 user error."""
    args = build_parser().parse_args(argv)
    compat.forget_mp_main()
    try:
        t0 = time.perf_counter()
        manifest = render_scene_benchmark(args)
    except OccposeError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    seqs = manifest["sequences"]
    frames = sum(s["extra"].get("rendered_frames", 0) for s in seqs)
    print(f"{args.out}: {len(seqs)} sequences, {frames} frames rendered, status {manifest['status']} "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)
    return 0 if manifest["status"] == "complete" else 1
