"""Every difference between the Blender versions the add-on supports (3.4 to 5.x), in one place.

* EEVEE's engine id: ``BLENDER_EEVEE`` (up to 4.1, again from 5.0) vs ``BLENDER_EEVEE_NEXT``
  (4.2 to 4.5).
* Animation: from 4.4 actions have slots and layers (``Action.fcurves`` is gone in 5.0);
  ``Action.fcurve_ensure_for_datablock`` creates the F-curve, slot and layer.
* Cycles built without OpenImageDenoise (Debian's 3.4): denoising stays off (``render.py``).
* Cycles GPU: the compute device types to try, and how preferences list devices.
* Blender 3.4 crashes on exit (``addon_utils.disable_all``) when ``multiprocessing`` was
  imported during a ``-P`` script: it keeps the script's freed ``__main__`` module as
  ``sys.modules["__mp_main__"]``. ``occpose.generate`` imports ``concurrent.futures``'
  ProcessPoolExecutor at the top, so :func:`forget_mp_main` drops that alias (the add-on never
  spawns processes).
* The one zip (``build.py``) vendors the occpose package next to the add-on modules
  (``_vendor/``) for 3.4 to 4.1, whose legacy add-ons cannot install wheels; extensions (4.2+)
  get it from the bundled wheel. Blender 3.4 to 4.0 bundle Python 3.10 (no ``tomllib``):
  ``occpose.configio`` falls back to ``occpose.tomlsubset``.
* UI icons are renamed between versions (``SEQUENCE_COLOR_01`` -> ``STRIP_COLOR_01``):
  :func:`icon` picks the first this Blender has.

The add-on uses no compositor nodes (masks come from ray casts, see ``masks.py``), so the 5.0
compositor changes (``scene.compositing_node_group``) do not reach it.
"""

from __future__ import annotations

import sys
from pathlib import Path

VENDOR = Path(__file__).resolve().parent / "_vendor"


def ensure_occpose_importable() -> None:
    """Put a vendored occpose (the zip installed as a legacy add-on) on sys.path when no other occpose is importable."""
    import importlib.util

    if importlib.util.find_spec("occpose") is None and (VENDOR / "occpose").is_dir():
        sys.path.append(str(VENDOR))


ensure_occpose_importable()

import bpy  # noqa: E402  (after the vendored path: modules importing compat get occpose)

ENGINES = {"cycles": "CYCLES", "workbench": "BLENDER_WORKBENCH"}  # eevee: see set_engine
GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")
INTERPOLATION = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}  # enum order of Keyframe.interpolation


def set_engine(scene, engine: str) -> str:
    """Set the scene's render engine from an occpose name (cycles, workbench, eevee); returns the id."""
    ids = ("BLENDER_EEVEE_NEXT", "BLENDER_EEVEE") if engine == "eevee" else (ENGINES[engine],)
    for engine_id in ids:
        try:
            scene.render.engine = engine_id
            return engine_id
        except TypeError:  # not this version's id
            continue
    raise RuntimeError(f"this Blender {bpy.app.version_string} has no {engine} render engine")


def new_fcurve(id_data, data_path: str, index: int = 0):
    """An empty F-curve animating ``id_data.<data_path>[index]`` (creates the action if needed)."""
    anim = id_data.animation_data or id_data.animation_data_create()
    if anim.action is None:
        anim.action = bpy.data.actions.new(f"{id_data.name}Action")
    action = anim.action
    if hasattr(action, "fcurve_ensure_for_datablock"):  # 4.4+: slotted actions
        return action.fcurve_ensure_for_datablock(id_data, data_path, index=index)
    return action.fcurves.new(data_path, index=index)


def enable_cycles_gpu() -> str | None:
    """Enable every GPU device of the first working backend; returns its name, None if none."""
    addon = bpy.context.preferences.addons.get("cycles")
    if addon is None:
        return None
    prefs = addon.preferences
    for backend in GPU_BACKENDS:
        try:
            prefs.compute_device_type = backend
        except TypeError:  # backend not compiled into this build
            continue
        if hasattr(prefs, "refresh_devices"):
            prefs.refresh_devices()
        else:
            prefs.get_devices()
        gpus = [d for d in prefs.devices if d.type == backend]
        if gpus:
            for d in prefs.devices:
                d.use = d.type == backend
            return backend
    prefs.compute_device_type = "NONE"
    return None


def forget_mp_main() -> None:
    """Drop multiprocessing's alias of a -P script's ``__main__`` (see the module docstring)."""
    if "__mp_main__" in sys.modules and sys.modules["__mp_main__"] is sys.modules.get("__main__"):
        del sys.modules["__mp_main__"]


def set_view_transform(scene, names=("Filmic", "Standard")) -> str:
    """The first colour view transform of ``names`` this Blender knows (Filmic is not in every
    OpenColorIO configuration); returns it."""
    for name in names:
        try:
            scene.view_settings.view_transform = name
            return name
        except TypeError:
            continue
    return scene.view_settings.view_transform


def icon(*names: str) -> str:
    """The first of ``names`` that this Blender has as a UI icon, else "NONE" (icons are renamed
    between versions, e.g. SEQUENCE_COLOR_01 -> STRIP_COLOR_01 in 4.x, and an unknown icon name
    is an error in ``layout.label``)."""
    if names not in _ICONS:
        items = set(bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items.keys())
        _ICONS[names] = next((n for n in names if n in items), "NONE")
    return _ICONS[names]


_ICONS: dict[tuple, str] = {}


def view_layer_depsgraph(scene):
    """The evaluated depsgraph of the scene's first view layer (the scene need not be active)."""
    return scene.view_layers[0].depsgraph
