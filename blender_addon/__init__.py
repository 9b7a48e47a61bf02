"""occpose for Blender: build, occlude, label and render occpose benchmark scenes.

Metadata and register/unregister only. Blender 4.2+ installs it as an extension
(``blender_manifest.toml``, occpose from the bundled wheel), Blender 3.4 to 4.1 as a legacy
add-on (``bl_info``, occpose vendored in ``_vendor/``); ``python -m blender_addon.build`` makes
both zips. Submodules are imported in :func:`register`, so importing this package needs no bpy
(the zip builder and the bpy-free launcher import it).
"""

bl_info = {
    "name": "OccPose",
    "author": "occpose contributors",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "3D View > Sidebar > OccPose",
    "description": "Synthetic occlusion benchmark for 3D human pose estimation: cylinder-man "
                   "scenes, occluders, ray-cast visibility labels, rendered frames and masks",
    "category": "Render",
}

_unregister_classes = None


def register() -> None:
    global _unregister_classes
    import bpy

    from . import compat  # puts a vendored occpose on sys.path first
    from . import operators, panels, properties, user_ui

    register_classes, _unregister_classes = bpy.utils.register_classes_factory(
        properties.CLASSES + operators.CLASSES + panels.CLASSES + user_ui.CLASSES)
    register_classes()
    properties.attach()
    user_ui.attach()
    compat.forget_mp_main()


def unregister() -> None:
    global _unregister_classes
    from . import properties, user_ui

    user_ui.detach()
    properties.detach()
    if _unregister_classes is not None:
        _unregister_classes()  # in reverse order
        _unregister_classes = None
