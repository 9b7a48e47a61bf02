"""The "OccPose" tab of the 3D View sidebar (N panel)."""

from __future__ import annotations

import bpy


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
        layout = self.layout
        layout.use_property_split = True
        layout.prop(s, "preset")
        col = layout.column(align=True)
        col.prop(s, "subject")
        col.prop(s, "action")
        col.prop(s, "camera")
        col.prop(s, "frames")
        col.prop(s, "seed")
        layout.operator("occpose.build_scene", icon="ARMATURE_DATA")
        layout.prop(s, "level")
        layout.operator("occpose.place_occluders", icon="MESH_CUBE")
        layout.operator("occpose.label_visibility", icon="HIDE_OFF")


class OCCPOSE_PT_render(_SidebarTab, bpy.types.Panel):
    bl_label = "Render Benchmark"
    bl_idname = "OCCPOSE_PT_render"
    bl_parent_id = "OCCPOSE_PT_main"

    def draw(self, context):
        s = context.scene.occpose
        layout = self.layout
        layout.use_property_split = True
        col = layout.column(align=True)
        col.prop(s, "engine")
        col.prop(s, "resolution")
        col.prop(s, "samples")
        layout.prop(s, "output")
        layout.prop(s, "overwrite")
        layout.operator("occpose.render_benchmark", icon="RENDER_ANIMATION")
        if s.status:
            box = layout.box()
            box.label(text=s.status[:120])


CLASSES = (OCCPOSE_PT_main, OCCPOSE_PT_render)
