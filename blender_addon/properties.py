"""The add-on's settings: one PropertyGroup on every scene (``scene.occpose``).

Zero or -1 means "as the preset says" for the numeric overrides, and an empty preset path means
the bundled ``quick.toml`` (``presets/`` inside the installed add-on, ``scenes/`` in a checkout).
"""

from __future__ import annotations

from pathlib import Path

import bpy
from bpy.props import (BoolProperty, EnumProperty, FloatProperty, IntProperty, IntVectorProperty,
                       PointerProperty, StringProperty)

HERE = Path(__file__).resolve().parent
ENGINES = (("PRESET", "Preset", "The preset's [render] engine"),
           ("cycles", "Cycles", "Path tracing (CPU, or GPU with render.device = gpu)"),
           ("workbench", "Workbench", "Fast flat/studio shading"),
           ("eevee", "EEVEE", "Rasteriser (needs OpenGL/EGL)"))


def default_preset() -> str:
    for candidate in (HERE / "presets" / "quick.toml", HERE.parent / "scenes" / "quick.toml"):
        if candidate.is_file():
            return str(candidate)
    return ""


_CHOICES: dict = {}  # (path, mtime) -> {"subject": [...], "action": [...], "camera": [...]}


def preset_choices(path: str) -> dict[str, list[str]]:
    """Subjects, actions and cameras a preset defines (cached per file version; {} on errors)."""
    from occpose.config import load_config
    from occpose.errors import OccposeError

    path = path or default_preset()
    try:
        key = (path, Path(path).stat().st_mtime)
    except OSError:
        return {}
    if key not in _CHOICES:
        try:
            cfg = load_config(path)
        except OccposeError:
            return {}
        _CHOICES[key] = choices_of(cfg)
    return _CHOICES[key]


def choices_of(cfg) -> dict[str, list[str]]:
    """The subjects, actions and cameras a preset defines, by panel field."""
    b = cfg.benchmark
    return {"subject": [*b.train_subjects, *b.test_subjects], "action": list(b.actions),
            "camera": [c.name for c in cfg.cameras]}


def _search(field: str):
    def search(self, context, edit_text):
        return [v for v in preset_choices(bpy.path.abspath(self.preset)).get(field, []) if edit_text in v]
    return search


def _string(name: str, default: str, description: str, field: str) -> StringProperty:
    """A text field that suggests the preset's values (``search`` needs Blender 3.3+)."""
    return StringProperty(name=name, default=default, description=description, search=_search(field))


class OCCPOSE_PG_settings(bpy.types.PropertyGroup):
    preset: StringProperty(name="Preset", subtype="FILE_PATH", default="",
                           description="Benchmark preset (TOML); empty: the bundled quick.toml")
    subject: _string("Subject", "S1", "Subject of the scene to build", "subject")
    action: _string("Action", "walk", "Action of the scene to build", "action")
    camera: _string("Camera", "cam0", "Camera of the scene to build", "camera")
    level: FloatProperty(name="Occlusion level", min=0.0, max=0.95, default=0.2, precision=2,
                         description="Target mean fraction of joints hidden by occluders")
    seed: IntProperty(name="Seed", min=-1, default=-1, description="Global seed; -1: the preset's")
    frames: IntProperty(name="Frames", min=0, default=0, description="Frames per sequence; 0: the preset's")
    engine: EnumProperty(name="Engine", items=ENGINES, default="PRESET")
    resolution: IntVectorProperty(name="Resolution", size=2, min=0, default=(0, 0),
                                  description="Render width and height; 0: the preset's")
    samples: IntProperty(name="Samples", min=0, default=0, description="Render samples; 0: the preset's")
    output: StringProperty(name="Output", subtype="DIR_PATH", default="//occpose_benchmark",
                           description="Benchmark directory to write (resumes what is there)")
    overwrite: BoolProperty(name="Overwrite", default=False,
                            description="Replace a benchmark made from a different configuration")
    status: StringProperty(name="Status", default="", description="What the last operator did")
    status_level: StringProperty(name="Status level", default="INFO",
                                 description="INFO, WARNING or ERROR: how the panel shows the status")


CLASSES = (OCCPOSE_PG_settings,)


def attach() -> None:
    bpy.types.Scene.occpose = PointerProperty(type=OCCPOSE_PG_settings)


def detach() -> None:
    del bpy.types.Scene.occpose
