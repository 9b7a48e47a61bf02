"""The "OccPose" tab of the 3D View sidebar (N panel).

Drawing is cheap: what the panel derives from the preset (the effective frames, seed and render
settings, the job size) is computed once per (preset file version, settings) and cached. Labels
sit above or inside their fields so that nothing is cut off at the default sidebar width, and
long status lines wrap.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import bpy

from . import compat
from .operators import running_job
from .properties import default_preset

LEGEND = (("green", "visible", "04"), ("orange", "hidden by body", "02"),
          ("red", "hidden by object", "01"), ("grey", "out of frame", "09"))  # colour icon number
LEVEL_ICONS = {"INFO": "INFO", "WARNING": "ERROR", "ERROR": "CANCEL"}

_INFO: dict = {}  # settings key -> what the panel shows about them


def settings_info(s) -> dict:
    """Effective values and job size of the settings (cached; ``error`` on a bad preset)."""
    from occpose.errors import OccposeError

    from .jobsize import job_size
    from .operators import settings_config

    path = bpy.path.abspath(s.preset) if s.preset else default_preset()
    try:
        mtime = Path(path).stat().st_mtime
    except OSError:
        mtime = None
    key = (path, mtime, s.frames, s.seed, s.engine, tuple(s.resolution), s.samples)
    if key not in _INFO:
        if len(_INFO) > 64:
            _INFO.clear()
        try:
            cfg = settings_config(s)
            r = cfg.render
            _INFO[key] = {"frames": cfg.benchmark.frames, "seed": cfg.benchmark.seed,
                          "render": f"{r.engine.capitalize()} {r.resolution[0]} x {r.resolution[1]} px, "
                                    f"{r.samples} samples, 1 in {r.frame_stride} frames rendered",
                          "job": job_size(cfg).summary(), "error": ""}
        except OccposeError as e:
            _INFO[key] = {"error": " ".join(str(e).split())}
    return _INFO[key]


def wrapped(layout, text: str, context, icon: str = "NONE") -> None:
    """``text`` as labels wrapped to the region's width (the first line with ``icon``)."""
    width = max(16, int(context.region.width / (8.5 * context.preferences.view.ui_scale)) - 3)
    col = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(text, width) or [""]):
        col.label(text=line, icon=icon if i == 0 else "BLANK1" if icon != "NONE" else "NONE")


class _SidebarTab:
    """Where the panels live: the 3D View sidebar's OccPose tab."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "OccPose"


class OCCPOSE_PT_main(_SidebarTab, bpy.types.Panel):
    bl_label = "OccPose"
    bl_idname = "OCCPOSE_PT_main"

    def draw(self, context):
        s = context.scene.occpose
        info = settings_info(s)
        layout = self.layout
        layout.use_property_split = False
        layout.prop(s, "preset", text="")
        if info["error"]:
            wrapped(layout, info["error"], context, "CANCEL")
        split = layout.split(factor=0.36, align=True)  # labels that fit the default sidebar width
        names, fields = split.column(align=True), split.column(align=True)
        for prop in ("subject", "action", "camera"):
            names.label(text=prop.capitalize())
            fields.prop(s, prop, text="")
        col = layout.column(align=True)
        col.prop(s, "frames", text="Frames (0: preset)" if not s.frames else "Frames")
        col.prop(s, "seed", text="Seed (-1: preset)" if s.seed < 0 else "Seed")
        if not info["error"]:
            col.label(text=f"Uses {info['frames']} frames, seed {info['seed']}", icon="INFO")
        layout.operator("occpose.build_scene", icon="ARMATURE_DATA")
        layout.prop(s, "level", text="Occlusion level", slider=True)
        layout.operator("occpose.place_occluders", icon="MESH_CUBE")
        layout.operator("occpose.label_visibility", icon="HIDE_OFF")
        job = running_job()
        if job is not None:
            box = layout.box()
            if hasattr(box, "progress"):  # Blender 4.0+: a progress bar
                box.progress(factor=job.step.fraction if job.step else 0.0, type="BAR",
                             text=f"{job.title}: {100 * (job.step.fraction if job.step else 0):.0f} %")
            wrapped(box, job.status_text(), context, "TIME")
        elif s.status:
            wrapped(layout.box(), s.status, context, LEVEL_ICONS.get(s.status_level, "INFO"))


class OCCPOSE_PT_legend(_SidebarTab, bpy.types.Panel):
    bl_label = "Joint marker colours"
    bl_idname = "OCCPOSE_PT_legend"
    bl_parent_id = "OCCPOSE_PT_main"

    def draw(self, context):
        col = self.layout.column(align=True)
        for colour, meaning, n in LEGEND:
            col.label(text=f"{colour}: {meaning}",
                      icon=compat.icon(f"STRIP_COLOR_{n}", f"SEQUENCE_COLOR_{n}", f"COLLECTION_COLOR_{n}"))
        col.label(text="(Solid shading, colour: Object)")


class OCCPOSE_PT_render(_SidebarTab, bpy.types.Panel):
    bl_label = "Render Benchmark"
    bl_idname = "OCCPOSE_PT_render"
    bl_parent_id = "OCCPOSE_PT_main"

    def draw(self, context):
        s = context.scene.occpose
        info = settings_info(s)
        layout = self.layout
        layout.use_property_split = False
        split = layout.split(factor=0.36, align=True)
        split.label(text="Engine")
        split.prop(s, "engine", text="")
        col = layout.column(align=True)
        col.label(text="Resolution (0: preset)")
        col.row(align=True).prop(s, "resolution", text="")
        col.prop(s, "samples", text="Samples (0: preset)" if not s.samples else "Samples")
        if not info["error"]:
            wrapped(layout, info["render"], context, "INFO")
        layout.label(text="Output folder")
        layout.prop(s, "output", text="")
        if s.output.startswith("//") and not bpy.data.filepath:
            wrapped(layout, "Unsaved file: save it or choose an absolute folder", context, "ERROR")
        layout.prop(s, "overwrite")
        if not info["error"]:
            wrapped(layout, info["job"], context, "TIME")
        layout.operator("occpose.render_benchmark", icon="RENDER_ANIMATION")


CLASSES = (OCCPOSE_PT_main, OCCPOSE_PT_legend, OCCPOSE_PT_render)
