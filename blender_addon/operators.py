"""The add-on's operators: build the scene, place occluders, label visibility, render the benchmark.

Each reads ``scene.occpose``, calls occpose and the bridge, reports, returns. The first three
work on the current scene (the add-on's own collections only); rendering the benchmark runs the
headless pipeline in a separate scene, ``OccPose Render``, so the scene being edited stays.

The work of each is a generator of :class:`~.progress.Step` (``*_steps`` below), run by a
:class:`~.progress.Job`: called from Python or in background mode the operator runs it to the
end (``bpy.ops.occpose.build_scene()``); from the panel it is modal: Blender's progress cursor
and a status-bar line with the time left, Esc cancels (a cancelled Build or Place leaves the
previous state, a cancelled render keeps the finished sequences and resumes when run again).
Every failure is one line in the UI (``ui_message``), never a traceback.
"""

from __future__ import annotations

import os
import sys
import traceback

import bpy
import numpy as np

from occpose.config import Config, load_config
from occpose.errors import ConfigError, OccposeError
from occpose.generate import SequenceKey, motion_world, visibility_params
from occpose.occlusion.occluders.geometry import OccluderSet
from occpose.occlusion.raycast.visibility import VisibilityLabels, label_visibility

from . import bridge, labels, pipeline, render, sequence, user_scene
from .jobsize import job_size
from .progress import Job, Step, StepGenerator
from .properties import choices_of, default_preset

RENDER_SCENE = "OccPose Render"
BUILT, PLACED = "occpose_built", "occpose_placed_level"
LABEL_CHUNK = 10  # frames labelled per step
FIRST_SLICE = 1.0  # seconds of work in invoke, before Blender first redraws
_UI_SECONDS: list[float] = []  # Blender's time between slices, measured by the last modal job
_RUNNING: dict[str, Job] = {}  # the modal job now running (one at a time: they share the scene)


def running_job() -> Job | None:
    """The modal job now running (the panel shows its progress), or None."""
    return next(iter(_RUNNING.values()), None)
CLI_WORDS = (("use another --out or pass --overwrite", "choose another Output folder or tick Overwrite"),
             ("--out", "the Output folder"), ("--overwrite", "Overwrite"), ("--seed", "Seed"))


# ---- settings -> configuration --------------------------------------------------------------

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


def output_folder(s) -> str:
    """The absolute output folder of the settings; a relative one is a ConfigError.

    ``//`` means "next to the .blend file", which an unsaved file does not have (Blender then
    leaves the path relative to its working directory, wherever that is).
    """
    raw = s.output.strip()
    if not raw:
        raise ConfigError("Output is empty: choose an output folder")
    if raw.startswith("//") and not bpy.data.filepath:
        raise ConfigError(f"Output {raw!r} is relative to the .blend file, which is not saved: "
                          "save the file first or choose an absolute output folder")
    out = bpy.path.abspath(raw)
    if not os.path.isabs(out):
        raise ConfigError(f"Output {raw!r} is a relative path: choose an absolute output folder")
    return os.path.normpath(out)


def ui_message(e: BaseException) -> str:
    """One line for the UI: the panel's words instead of command-line flags, no traceback."""
    if isinstance(e, OSError) and not isinstance(e, OccposeError):
        where = f"{e.filename}: " if e.filename else ""
        text = f"{where}{e.strerror or e}"
    elif isinstance(e, OccposeError):
        text = str(e)
    else:
        text = f"{type(e).__name__}: {e}"
    for flag, words in CLI_WORDS:
        text = text.replace(flag, words)
    return " ".join(text.split())


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


def built_config(scene, s) -> Config:
    if scene.get(BUILT) != fingerprint(s):
        raise ConfigError("build the scene first (the settings changed since it was built)")
    return settings_config(s)


# ---- what Build Scene changes ---------------------------------------------------------------

def is_default_cube(obj) -> bool:
    """Whether ``obj`` is Blender's untouched startup cube (name, 8-vertex mesh, at the origin,
    unrotated, unit scale, no parent, no modifiers)."""
    data = obj.data
    return (obj.type == "MESH" and obj.name == "Cube" and data is not None and len(data.vertices) == 8
            and obj.parent is None and len(obj.modifiers) == 0
            and tuple(obj.location) == (0.0, 0.0, 0.0) and tuple(obj.rotation_euler) == (0.0, 0.0, 0.0)
            and tuple(obj.scale) == (1.0, 1.0, 1.0) and tuple(obj.dimensions) == (2.0, 2.0, 2.0))


def scene_settings(scene) -> dict[str, str]:
    r = scene.render
    return {"engine": r.engine, "resolution": f"{r.resolution_x} x {r.resolution_y}",
            "frames": f"{scene.frame_start}-{scene.frame_end}",
            "camera": scene.camera.name if scene.camera else "none"}


def describe_changes(before: dict[str, str], after: dict[str, str]) -> str:
    changed = [f"{k} {before[k]} -> {after[k]}" for k in before if before[k] != after[k]]
    return "changed " + ", ".join(changed) if changed else "render settings unchanged"


# ---- the steps of each operator -------------------------------------------------------------

def build_steps(scene, s) -> StepGenerator:
    cfg = settings_config(s)
    yield Step(1, 3, "motion")
    inputs = selected_inputs(cfg, s, None)
    yield Step(2, 3, "objects")
    before = scene_settings(scene)
    hidden = ""
    cube = scene.objects.get("Cube")
    if cube is not None and is_default_cube(cube) and not cube.hide_render:
        cube.hide_render = True
        cube.hide_set(True)
        hidden = "; hid the default Cube at the origin (unhide it in the Outliner)"
    render.configure(scene, cfg.render, seed=0)
    sequence.build_scene(scene, cfg, inputs, with_occluders=False)
    scene[BUILT] = fingerprint(s)
    if PLACED in scene:
        del scene[PLACED]
    yield Step(3, 3, "done")
    k = inputs.key
    return (f"Built {k.subject} {k.action} seen by {k.camera}, {inputs.n_frames} frames; "
            f"{describe_changes(before, scene_settings(scene))}{hidden}")


def place_steps(scene, s) -> StepGenerator:
    cfg = built_config(scene, s)
    yield Step(1, 3, "placing occluders")
    inputs = selected_inputs(cfg, s, s.level)
    yield Step(2, 3, "occluder objects")
    sequence.add_occluders(scene, cfg, inputs)
    scene[PLACED] = inputs.key.level
    bridge.clear(scene, (bridge.MARKERS,))
    yield Step(3, 3, "done")
    achieved = float(inputs.analytic.occluder_fraction.mean()) if inputs.analytic else 0.0
    return (f"Placed {inputs.occluders.num_primitives} occluder primitives: level {achieved:.3f} "
            f"(target {inputs.key.level:.2f})")


def label_steps(scene, s) -> StepGenerator:
    cfg = built_config(scene, s)
    inputs = user_scene.with_scene_occluders(scene, selected_inputs(cfg, s, scene.get(PLACED)),
                                             user_scene.collection_setting(scene))
    n_t = inputs.n_frames
    total = n_t + 1
    yield Step(0, total, "ray casts")
    bridge.clear(scene, (bridge.MARKERS,))
    params = visibility_params(cfg)
    caster = sequence.ray_caster(scene, inputs, params)
    lab = None
    for start in range(0, n_t, LABEL_CHUNK):
        frames = range(start, min(start + LABEL_CHUNK, n_t))
        part = labels.label_scene(scene, caster, inputs.joints_cam, inputs.body, inputs.camera, frames)
        lab = part if lab is None else merge_frames(lab, part, frames)
        yield Step(frames.stop, total, f"frame {frames.stop}/{n_t}")
    states = labels.joint_states(lab)
    bridge.joint_markers(scene, inputs.joints_world, states, inputs.body.skeleton.joint_names)
    occ = inputs.all_occluders.in_camera_frame(inputs.camera)  # an empty set labels as None
    analytic = label_visibility(inputs.joints_cam, inputs.body, inputs.camera, occ, params)
    yield Step(total, total, "done")
    share = np.bincount(states.ravel(), minlength=4) / states.size * 100
    return (f"Joints visible {share[0]:.1f} %, hidden by body {share[1]:.1f} %, by objects "
            f"{share[2]:.1f} %, out of frame {share[3]:.1f} %; agrees with the analytic labels on "
            f"{100 * labels.agreement(lab, analytic):.2f} % of joint-frames")


def merge_frames(into: VisibilityLabels, part: VisibilityLabels, frames: range) -> VisibilityLabels:
    """``into`` with the rows ``frames`` taken from ``part`` (every label array is (T, ...))."""
    arrays = into.to_arrays()
    rows = np.asarray(frames)
    for name, array in part.to_arrays().items():
        arrays[name] = arrays[name].copy()
        arrays[name][rows] = array[rows]
    return VisibilityLabels(**arrays)


def render_steps(s, occluder_collection: str | None = None) -> StepGenerator:
    """``occluder_collection``: the user's occluder objects to take along
    (``user_scene.render_setting``), None for none."""
    out = output_folder(s)
    cfg = settings_config(s)
    scene = bridge.ensure_scene(RENDER_SCENE)
    size = job_size(cfg)
    progress = pipeline.iter_benchmark(cfg, out, overwrite=s.overwrite, scene=scene,
                                       occluder_collection=occluder_collection)
    finished = False
    try:
        while True:
            try:
                p = next(progress)
            except StopIteration as stop:
                manifest = stop.value
                break
            yield Step(p.done, p.total, f"{p.sequence} frame {p.frame + 1}")
        finished = True
    finally:
        progress.close()
        if not finished:  # cancelled or failed: the finished sequences stay, the scene goes
            bridge.clear(scene)
    n = len(manifest["sequences"])
    return f"Rendered {n} sequences into {out} ({manifest['status']}; {size.frames:,} frames)"


# ---- operators ------------------------------------------------------------------------------

class _JobOperator(bpy.types.Operator):
    """Runs the operator's steps: to the end from Python, modally (Esc cancels) from the panel."""

    bl_options = {"REGISTER"}
    cancel_note = "nothing was changed"

    @classmethod
    def poll(cls, context):
        if _RUNNING:
            if hasattr(cls, "poll_message_set"):  # Blender 3.0+: the greyed-out button's tooltip
                cls.poll_message_set(f"{', '.join(sorted(_RUNNING))} is running (Esc cancels it)")
            return False
        return True

    def steps(self, context, s) -> StepGenerator:
        raise NotImplementedError

    def new_job(self, context) -> Job:
        s = context.scene.occpose
        return Job(self.bl_label, self.steps(context, s), context.window_manager,
                   getattr(context, "workspace", None))

    def done(self, context, message: str, level: str = "INFO") -> set[str]:
        s = context.scene.occpose
        s.status = message
        s.status_level = level
        self.report({level}, message)
        for area in getattr(context.screen, "areas", ()):  # the panel and the status bar
            area.tag_redraw()
        return {"FINISHED"} if level == "INFO" else {"CANCELLED"}

    def failed(self, context, e: BaseException) -> set[str]:
        if not isinstance(e, (OccposeError, OSError)):  # a bug: the details go to the console
            traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
        return self.done(context, ui_message(e), "ERROR")

    def execute(self, context):
        try:
            job = self.new_job(context)
            return self.done(context, job.run())
        except Exception as e:  # noqa: BLE001 -- every failure becomes one line in the UI
            return self.failed(context, e)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        try:
            self._job = job = self.new_job(context)
            job.ui_seconds = _UI_SECONDS[-1] if _UI_SECONDS else None
            if job.run_slice(max(job.slice_budget(), FIRST_SLICE)):
                return self.done(context, job.message)
        except Exception as e:  # noqa: BLE001
            return self.failed(context, e)
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.01, window=context.window)
        wm.modal_handler_add(self)
        _RUNNING[self.bl_label] = job
        return {"RUNNING_MODAL"}

    def _stop_timer(self, context) -> None:
        _RUNNING.pop(self.bl_label, None)
        if getattr(self, "_timer", None) is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._stop_timer(context)
            try:
                self._job.cancel()
            except Exception as e:  # noqa: BLE001
                return self.failed(context, e)
            return self.done(context, f"{self.bl_label} cancelled; {self.cancel_note}", "WARNING")
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        try:
            finished = self._job.run_slice()
        except Exception as e:  # noqa: BLE001
            self._stop_timer(context)
            return self.failed(context, e)
        if not finished:
            for area in getattr(context.screen, "areas", ()):  # the panel's progress bar
                if area.type == "VIEW_3D":
                    for region in area.regions:
                        if region.type == "UI":
                            region.tag_redraw()
            return {"RUNNING_MODAL"}
        self._stop_timer(context)
        if self._job.ui_seconds is not None:
            _UI_SECONDS[:] = [self._job.ui_seconds]
        return self.done(context, self._job.message)


class OCCPOSE_OT_build_scene(_JobOperator):
    """Build the selected subject and action as animated capsules, with floor, lights, camera.
    Sets this scene's render engine, resolution, frame range and camera from the preset"""

    bl_idname = "occpose.build_scene"
    bl_label = "Build Scene"

    def steps(self, context, s):
        return build_steps(context.scene, s)


class OCCPOSE_OT_place_occluders(_JobOperator):
    """Place occluders for the target level with the analytic sampler (same seed, same occluders)"""

    bl_idname = "occpose.place_occluders"
    bl_label = "Place Occluders"

    def steps(self, context, s):
        return place_steps(context.scene, s)


class OCCPOSE_OT_label_visibility(_JobOperator):
    """Label every joint in every frame by Blender ray casts and show coloured joint markers"""

    bl_idname = "occpose.label_visibility"
    bl_label = "Label Visibility"
    cancel_note = "the joint markers were removed"

    def steps(self, context, s):
        return label_steps(context.scene, s)


class OCCPOSE_OT_render_benchmark(_JobOperator):
    """Render the whole preset into the output folder (labels, frames, masks); Esc cancels, rerun resumes"""

    bl_idname = "occpose.render_benchmark"
    bl_label = "Render Benchmark"
    cancel_note = "finished sequences are kept; Render Benchmark again to resume"

    def steps(self, context, s):
        return render_steps(s, user_scene.render_setting(context.scene))


CLASSES = (OCCPOSE_OT_build_scene, OCCPOSE_OT_place_occluders, OCCPOSE_OT_label_visibility,
           OCCPOSE_OT_render_benchmark)
