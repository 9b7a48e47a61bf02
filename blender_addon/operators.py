"""The add-on's operators: build the scene, place occluders, label visibility, render the benchmark.

Each reads ``scene.occpose``, calls occpose and the bridge, reports, returns. The first three
work on the current scene (the add-on's own collections only); rendering the benchmark runs the
headless pipeline in a separate scene, ``OccPose Render``, so the scene being edited stays.
All are usable from Python, e.g. ``bpy.ops.occpose.build_scene()``; called from Python (or in
background mode) the render operator runs synchronously, from the panel it is modal: progress in
the status bar, ESC cancels between frames, and rerunning resumes.
"""

from __future__ import annotations

import bpy
import numpy as np

from occpose.config import Config, load_config
from occpose.errors import ConfigError, OccposeError
from occpose.generate import SequenceKey, motion_world, visibility_params
from occpose.occlusion.occluders.geometry import OccluderSet
from occpose.occlusion.raycast.visibility import label_visibility

from . import bridge, labels, pipeline, render, sequence, user_scene
from .properties import choices_of, default_preset

RENDER_SCENE = "OccPose Render"
BUILT, PLACED = "occpose_built", "occpose_placed_level"


def settings_config(s) -> Config:
    """The preset of the settings with their overrides applied."""
    overrides = [f"benchmark.frames={s.frames}"] if s.frames else []
    overrides += [f"render.engine={s.engine}"] if s.engine != "PRESET" else []
    if s.resolution[0] and s.resolution[1]:
        overrides.append(f"render.resolution=[{s.resolution[0]}, {s.resolution[1]}]")
    overrides += [f"render.samples={s.samples}"] if s.samples else []
    return load_config(bpy.path.abspath(s.preset) if s.preset else default_preset(), overrides,
                       s.seed if s.seed >= 0 else None)


def fingerprint(s) -> str:
    return "|".join(str(v) for v in (s.preset, s.subject, s.action, s.camera, s.seed, s.frames,
                                     tuple(s.resolution)))


def selected_inputs(cfg: Config, s, level: float | None) -> sequence.SequenceInputs:
    """The selected sequence's inputs; ``level`` None: no occluders."""
    for field, options in choices_of(cfg).items():
        if getattr(s, field) not in options:
            raise ConfigError(f"{cfg.source}: no {field} {getattr(s, field)!r}; the preset has "
                              f"{', '.join(options)}")
    key = SequenceKey(s.subject, s.action, s.camera, round(float(level or 0.0), 4))
    joints = motion_world(cfg, key.subject, key.action)
    cam = {c.name: c for c in cfg.camera_objects(rendered=True)}[key.camera]
    if level is not None:
        full = {c.name: c for c in cfg.camera_objects()}[key.camera]
        return sequence.place(cfg, key, joints, cam, full)
    return sequence.SequenceInputs(key, joints, cam, cfg.body_model(key.subject),
                                   OccluderSet.empty(len(joints)))


class _Operator(bpy.types.Operator):
    """Shared error handling: user mistakes become an error report, not a traceback."""

    bl_options = {"REGISTER"}

    def execute(self, context):
        s = context.scene.occpose
        try:
            message = self.run(context, s)
        except OccposeError as e:
            self.report({"ERROR"}, str(e))
            s.status = f"Error: {e}"
            return {"CANCELLED"}
        s.status = message
        self.report({"INFO"}, message)
        return {"FINISHED"}

    def built_inputs(self, context, s, with_occluders: bool):
        if context.scene.get(BUILT) != fingerprint(s):
            raise ConfigError("build the scene first (the settings changed since it was built)")
        level = context.scene.get(PLACED) if with_occluders else None
        return settings_config(s), level


class OCCPOSE_OT_build_scene(_Operator):
    """Build the selected subject and action as animated capsules, with floor, lights, camera"""

    bl_idname = "occpose.build_scene"
    bl_label = "Build Scene"

    def run(self, context, s) -> str:
        cfg = settings_config(s)
        inputs = selected_inputs(cfg, s, None)
        scene = context.scene
        render.configure(scene, cfg.render, seed=0)
        sequence.build_scene(scene, cfg, inputs, with_occluders=False)
        scene[BUILT] = fingerprint(s)
        if PLACED in scene:
            del scene[PLACED]
        return f"Built {inputs.key.subject} {inputs.key.action} seen by {inputs.key.camera}, {inputs.n_frames} frames"


class OCCPOSE_OT_place_occluders(_Operator):
    """Place occluders for the target level with the analytic sampler (same seed, same occluders)"""

    bl_idname = "occpose.place_occluders"
    bl_label = "Place Occluders"

    def run(self, context, s) -> str:
        cfg, _ = self.built_inputs(context, s, False)
        inputs = selected_inputs(cfg, s, s.level)
        sequence.add_occluders(context.scene, cfg, inputs)
        context.scene[PLACED] = inputs.key.level
        bridge.clear(context.scene, (bridge.MARKERS,))
        achieved = float(inputs.analytic.occluder_fraction.mean()) if inputs.analytic else 0.0
        return (f"Placed {inputs.occluders.num_primitives} occluder primitives: level {achieved:.3f} "
                f"(target {inputs.key.level:.2f})")


class OCCPOSE_OT_label_visibility(_Operator):
    """Label every joint in every frame by Blender ray casts and show coloured joint markers"""

    bl_idname = "occpose.label_visibility"
    bl_label = "Label Visibility"

    def run(self, context, s) -> str:
        cfg, level = self.built_inputs(context, s, True)
        scene = context.scene
        inputs = user_scene.with_scene_occluders(scene, selected_inputs(cfg, s, level),
                                                 user_scene.collection_setting(scene))
        bridge.clear(scene, (bridge.MARKERS,))
        params = visibility_params(cfg)
        caster = sequence.ray_caster(scene, inputs, params)
        lab = labels.label_scene(scene, caster, inputs.joints_cam, inputs.body, inputs.camera)
        states = labels.joint_states(lab)
        bridge.joint_markers(scene, inputs.joints_world, states, inputs.body.skeleton.joint_names)
        occ = inputs.all_occluders.in_camera_frame(inputs.camera)  # an empty set labels as None
        analytic = label_visibility(inputs.joints_cam, inputs.body, inputs.camera, occ, params)
        share = np.bincount(states.ravel(), minlength=4) / states.size * 100
        return (f"Joints visible {share[0]:.1f} %, hidden by body {share[1]:.1f} %, by objects "
                f"{share[2]:.1f} %, out of frame {share[3]:.1f} %; agrees with the analytic labels on "
                f"{100 * labels.agreement(lab, analytic):.2f} % of joint-frames")


class OCCPOSE_OT_render_benchmark(bpy.types.Operator):
    """Render the whole preset into the output folder (labels, frames, masks); ESC cancels, rerun resumes"""

    bl_idname = "occpose.render_benchmark"
    bl_label = "Render Benchmark"
    bl_options = {"REGISTER"}

    _timer = None
    _steps = None

    def start(self, context):
        s = context.scene.occpose
        out = bpy.path.abspath(s.output)
        if out.startswith("//") or not out:
            raise ConfigError("choose an absolute output folder or save the .blend file first")
        cfg = settings_config(s)
        scene = bridge.ensure_scene(RENDER_SCENE)
        self._steps = pipeline.iter_benchmark(cfg, out, overwrite=s.overwrite, scene=scene,
                                              occluder_collection=user_scene.render_setting(context.scene))
        self._out = out
        context.window_manager.progress_begin(0, 100)

    def advance(self, context) -> bool:
        """One frame of work; True when the benchmark is finished."""
        try:
            p = next(self._steps)
        except StopIteration as stop:
            manifest = stop.value
            n = len(manifest["sequences"])
            self.finish(context, f"Rendered {n} sequences into {self._out} ({manifest['status']})")
            return True
        context.window_manager.progress_update(100.0 * p.done / max(p.total, 1))
        context.scene.occpose.status = f"{p.sequence}: frame {p.frame + 1} ({p.done}/{p.total})"
        return False

    def finish(self, context, message: str, level: str = "INFO") -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
        wm.progress_end()
        context.scene.occpose.status = message
        self.report({level}, message)

    def execute(self, context):
        try:
            self.start(context)
            while not self.advance(context):
                pass
        except OccposeError as e:
            self.finish(context, f"Error: {e}", "ERROR")
            return {"CANCELLED"}
        except BaseException:
            self.finish(context, "Failed; see the console", "ERROR")
            raise
        return {"FINISHED"}

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        try:
            self.start(context)
        except OccposeError as e:
            self.report({"ERROR"}, str(e))
            return {"CANCELLED"}
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.01, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC":
            self._steps.close()
            self.finish(context, "Cancelled; Render Benchmark again to resume", "WARNING")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            done = self.advance(context)
        except OccposeError as e:
            self.finish(context, f"Error: {e}", "ERROR")
            return {"CANCELLED"}
        except BaseException:
            self.finish(context, "Failed; see the console", "ERROR")
            raise
        return {"FINISHED"} if done else {"RUNNING_MODAL"}


CLASSES = (OCCPOSE_OT_build_scene, OCCPOSE_OT_place_occluders, OCCPOSE_OT_label_visibility,
           OCCPOSE_OT_render_benchmark)
