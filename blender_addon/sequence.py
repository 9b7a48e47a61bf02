"""One sequence with the Blender backend: inputs, scene, per-frame labels/masks/renders, arrays.

The inputs are the analytic backend's (``occpose.generate``): the same motion, the same
occluder placement from the same ``key_rng`` stream, so both backends label the same scene. The
Blender backend then replaces the labels by Blender ray casts on the built scene, renders the
selected frames and adds ``mask_visible_fraction`` and ``rendered``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from occpose.body import BodyModel
from occpose.camera import Camera, world_to_camera
from occpose.config import Config
from occpose.dataset import SequenceEntry
from occpose.generate import SequenceKey, place_sequence, sequence_record, visibility_params
from occpose.occlusion.occluders.geometry import OccluderSet
from occpose.occlusion.raycast.visibility import VisibilityLabels, labels_from_counts, out_of_frame_mask
from occpose.rng import key_rng, key_seed

from . import appearance, bridge, distortion, labels, masks, pngio, render, scenery, user_scene


@dataclass(eq=False)
class SequenceInputs:
    """What a sequence is made of, before any Blender work.

    Attributes:
        joints_world: (T, 17, 3) float64 (float32-exact) world joints.
        camera: the render-resolution camera (``cfg.camera_objects(rendered=True)``).
        occluders: world-frame occluders of the placement.
        analytic: the placement's analytic labels (None when the occluders were given by hand).
        scene_occluders: the user's own objects (``user_scene.read_occluders``): already in the
            scene, so never built, but labelled and stored after ``occluders``.
    """

    key: SequenceKey
    joints_world: np.ndarray
    camera: Camera
    body: BodyModel
    occluders: OccluderSet
    analytic: VisibilityLabels | None = None
    steps: int = 0
    scene_occluders: OccluderSet | None = None

    @property
    def all_occluders(self) -> OccluderSet:
        """The placed occluders followed by the user's objects: what labels and arrays use."""
        if self.scene_occluders is None or not self.scene_occluders.num_primitives:
            return self.occluders
        return self.occluders.concat(self.scene_occluders)

    @property
    def n_frames(self) -> int:
        return len(self.joints_world)

    @property
    def joints_cam(self) -> np.ndarray:
        return world_to_camera(self.joints_world, self.camera)

    @property
    def remap(self) -> distortion.Remap | None:
        """How rendered canvases become the distorted camera's frames (None: pinhole camera)."""
        return remap_of(self.camera)


_REMAPS: dict[str, distortion.Remap | None] = {}


def remap_of(camera: Camera) -> distortion.Remap | None:
    """:func:`distortion.remap_for`, cached per camera (it costs ~1 s for a 1000 px camera)."""
    key = json.dumps(camera.to_dict(), sort_keys=True)
    if key not in _REMAPS:
        _REMAPS[key] = distortion.remap_for(camera)
    return _REMAPS[key]


def place(cfg: Config, key: SequenceKey, joints_world: np.ndarray, camera: Camera,
          placement_camera: Camera, scene_occluders: OccluderSet | None = None) -> SequenceInputs:
    """Occluders for ``key`` exactly as ``occpose.generate.make_sequence`` places them.

    Args:
        camera: the render-resolution camera; placement_camera: the preset's camera, which the
            analytic backend places with (same rng stream, so the same occluders).
        scene_occluders: the user's objects; the analytic labels then include them.
    """
    placed = place_sequence(cfg, key, joints_world, placement_camera)
    inputs = SequenceInputs(key, joints_world, camera, cfg.body_model(key.subject), placed.occluders,
                            placed.labels, placed.steps, scene_occluders)
    if scene_occluders is not None and scene_occluders.num_primitives:
        from occpose.occlusion.raycast.visibility import label_visibility

        inputs.analytic = label_visibility(inputs.joints_cam, inputs.body, camera,
                                           inputs.all_occluders.in_camera_frame(camera),
                                           visibility_params(cfg))
    return inputs


def rendered_frames(cfg: Config) -> np.ndarray:
    """(T,) bool: every ``frame_stride``-th frame (``render.subjects`` already restricts the
    plan, see ``pipeline.iter_benchmark``)."""
    mask = np.zeros(cfg.benchmark.frames, bool)
    mask[::cfg.render.frame_stride] = True
    return mask


def build_scene(scene, cfg: Config, inputs: SequenceInputs, with_occluders: bool = True) -> dict:
    """Clear the add-on's collections and build the sequence's scene; returns the objects."""
    key, seed, randomize = inputs.key, cfg.benchmark.seed, cfg.render.randomize
    bridge.clear(scene)
    bridge.set_frames(scene, inputs.n_frames)
    look = appearance.sample_appearance(key_rng(seed, "appearance", key.subject, key.action, key.camera),
                                        randomize)
    body = bridge.build_body(scene, inputs.body, inputs.joints_world)
    scenery.paint_body(body, [seg.name for seg in inputs.body.segments], look)
    remap = inputs.remap
    camera = bridge.setup_camera(scene, remap.canvas if remap else inputs.camera)
    scenery.build_scenery(scene, look, inputs.camera)
    objs = {"body": body, "camera": camera, "occluders": []}
    if with_occluders:
        objs["occluders"] = add_occluders(scene, cfg, inputs)
    if scene.render.engine == "CYCLES":
        scene.cycles.seed = key_seed(seed, "cycles", key.subject, key.action, key.camera) % (2 ** 31)
    scene.frame_set(0)
    return objs


def same_scene(a: SequenceKey | None, b: SequenceKey) -> bool:
    """Whether sequences ``a`` and ``b`` share everything but their occluders (the levels of one
    clip and camera: same body motion, appearance, scenery and camera)."""
    return a is not None and (a.subject, a.action, a.camera) == (b.subject, b.action, b.camera)


def swap_occluders(scene, cfg: Config, inputs: SequenceInputs) -> list:
    """Turn the built scene of another level of the same clip and camera (:func:`same_scene`)
    into the scene of ``inputs``: only the occluders change (the result equals
    :func:`build_scene`'s)."""
    objs = add_occluders(scene, cfg, inputs)
    scene.frame_set(0)
    return objs


def add_occluders(scene, cfg: Config, inputs: SequenceInputs) -> list:
    """(Re)build the occluder objects of ``inputs`` with their seeded textures."""
    bridge.clear(scene, (bridge.OCCLUDERS,))
    occ, key = inputs.occluders, inputs.key
    objs = bridge.build_occluders(scene, occ)
    textures = appearance.sample_occluder_textures(
        key_rng(cfg.benchmark.seed, "appearance", key.subject, key.action, key.camera, key.level),
        occ.num_primitives, cfg.render.randomize)
    scenery.paint_occluders(objs, occ.color, textures)
    return objs


def ray_caster(scene, inputs: SequenceInputs, params, reuse: labels.BatchRayCaster | None = None
               ) -> labels.BatchRayCaster:
    """The Blender ray caster of a built sequence's scene (its body and occluder objects, and
    the user's objects).

    ``reuse``: the caster of the previous sequence when only the occluders were swapped since
    (:func:`swap_occluders`): its body trees are kept.
    """
    table = {**bridge.blockers(scene), **user_scene.blockers(inputs.scene_occluders)}
    return labels.BatchRayCaster(scene, table, inputs.body.incidence, params,
                                 np.asarray(inputs.camera.position, np.float64), reuse=reuse)


@dataclass(eq=False)
class SequenceRender:
    """Per-frame work of one built sequence: Blender ray-cast counts, masks, renders.

    Call :meth:`step` for frames 0..T-1 (in any order, each once), then :meth:`result`.
    """

    scene: object
    cfg: Config
    inputs: SequenceInputs
    folder: Path | None  # sequences/<id>; None: nothing is written
    rendered: np.ndarray  # (T,) bool
    reuse: labels.BatchRayCaster | None = None  # see ray_caster
    blocked: np.ndarray = field(init=False)
    by_object: np.ndarray = field(init=False)
    visible_fraction: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        inp = self.inputs
        n_t, n_j = inp.n_frames, inp.body.skeleton.num_joints
        self.blocked = np.zeros((n_t, n_j), np.int32)
        self.by_object = np.zeros((n_t, n_j), np.int32)
        self.visible_fraction = np.ones(n_t, np.float32)
        self.joints_cam = inp.joints_cam
        self.params = visibility_params(self.cfg)
        self.caster = ray_caster(self.scene, inp, self.params, self.reuse)
        self.reuse = None
        # the scene is evaluated at a frame here (build_scene, swap_occluders): the caster checks
        # that it can read every blocker from the animation data, so frames need no frame_set
        self.reads_animation = self.caster.reads_animation()
        self.counted = np.zeros(n_t, bool)
        self.targets = labels.targets_world(self.joints_cam, inp.body.joint_radius, inp.camera, self.params)
        occ = inp.all_occluders
        self.occluders_cam = occ.in_camera_frame(inp.camera) if occ.num_primitives else None
        self.masked = np.zeros(n_t, bool)
        self.visible_masks: dict[int, np.ndarray] = {}  # rendered frames masked ahead of their step

    def step(self, t: int) -> None:
        """Label, mask and (if selected) render frame t. Labels come a chunk of frames at a time
        from the animation data (``BatchRayCaster.clip_counts``), so only rendered frames are
        set; when the caster cannot read the animation, every frame is set and cast. Masks come
        ``masks.batch_frames`` frames at a time (``masks.frame_masks``)."""
        if self.reads_animation:
            if not self.counted[t]:
                chunk = labels.CLIP_CHUNK
                frames = [f for f in range(t, min(t + chunk, len(self.counted))) if not self.counted[f]]
                self.blocked[frames], self.by_object[frames] = self.caster.clip_counts(self.targets, frames)
                self.counted[frames] = True
            if self.rendered[t] and self.folder is not None:
                self.scene.frame_set(t)
        else:
            self.scene.frame_set(t)
            self.blocked[t], self.by_object[t] = self.caster.frame_counts(self.targets[t])
        if not self.masked[t]:
            self._masks(t)
        if self.rendered[t] and self.folder is not None:
            render.render_frame(self.scene, self.folder / "frames" / f"{t:06d}.png", self.inputs.remap)
            visible = self.visible_masks.pop(t)
            pngio.write_png(self.folder / "masks" / f"{t:06d}.png", visible.astype(np.uint8) * 255)

    def _masks(self, t: int) -> None:
        """Visible fractions of frames t.. (``masks.batch_frames`` of them, those not done yet) in
        one batch, and the visible masks of the rendered ones among them (kept until their step)."""
        end = min(t + masks.batch_frames(self.inputs.camera), len(self.masked))
        frames = np.array([f for f in range(t, end) if not self.masked[f]])
        batch = masks.frame_masks(self.joints_cam[frames], self.inputs.body, self.inputs.camera,
                                  self.occluders_cam, frames)
        self.visible_fraction[frames] = batch.visible_fractions()
        self.masked[frames] = True
        if self.folder is not None:
            for i in np.flatnonzero(self.rendered[frames]):
                self.visible_masks[int(frames[i])] = batch.visible_mask(int(i))

    def labels(self) -> VisibilityLabels:
        return labels_from_counts(self.blocked, self.by_object, self.params.rays,
                                  out_of_frame_mask(self.joints_cam, self.inputs.camera))

    def result(self) -> tuple[SequenceEntry, dict[str, np.ndarray]]:
        """The manifest entry and arrays (dataset format) of the finished sequence."""
        return sequence_arrays(self.cfg, self.inputs, self.labels(), self.visible_fraction, self.rendered)


def sequence_arrays(cfg: Config, inputs: SequenceInputs, lab: VisibilityLabels, visible_fraction: np.ndarray,
                    rendered: np.ndarray) -> tuple[SequenceEntry, dict[str, np.ndarray]]:
    """Arrays as ``occpose.generate.make_sequence`` writes them, with Blender labels, plus
    ``mask_visible_fraction`` and ``rendered``."""
    extra = {"rendered_frames": int(np.count_nonzero(rendered)),
             "mask_occlusion": round(float(1.0 - np.mean(visible_fraction)), 6)}
    if inputs.analytic is not None:
        extra["analytic_agreement"] = round(labels.agreement(lab, inputs.analytic), 6)
    return sequence_record(
        cfg, inputs.key, inputs.joints_world, inputs.camera, lab, inputs.all_occluders, inputs.steps,
        extra_arrays={"mask_visible_fraction": np.asarray(visible_fraction, np.float32),
                      "rendered": np.asarray(rendered, bool)},
        extra=extra)
