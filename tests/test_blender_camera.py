"""Blender camera conversion: a point projected by occpose lands on the same rendered pixel."""

from __future__ import annotations

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from occpose.camera import Camera, look_at, project_to_2d, world_to_camera  # noqa: E402

from blender_addon import bridge, distortion, meshes, render  # noqa: E402

pytestmark = pytest.mark.blender
POINTS = np.array([[0.0, 0.0, 1.0], [0.6, -0.3, 1.5], [-0.5, 0.4, 0.5], [0.2, 0.7, 1.9]])


def make_camera(k=(0.0, 0.0, 0.0), p=(0.0, 0.0)) -> Camera:
    position = np.array([3.0, -2.5, 1.4])
    return Camera("cam", 160, 120, fx=150.0, fy=141.0, cx=71.3, cy=66.1,
                  rot_world_to_cam=look_at(position, [0.0, 0.0, 1.1]), position=position, k=k, p=p)


def sphere_scene(camera: Camera, remap=None):
    """Scene 'OccPose Test': a 4 cm white sphere on black, flat Workbench, 16x anti-aliasing."""
    scene = bridge.ensure_scene("OccPose Test")
    bridge.clear(scene)
    render.configure(scene, _workbench(), seed=0)
    scene.display.shading.light = "FLAT"
    scene.display.shading.show_shadows = False
    scene.world = scene.world or bpy.data.worlds.new("occpose_test_world")
    scene.world.color = (0.0, 0.0, 0.0)
    bridge.setup_camera(scene, remap.canvas if remap else camera)
    coll = bridge.collection(scene, bridge.OCCLUDERS)
    obj = bridge.mesh_object("occpose_test_sphere", meshes.sphere(0.04), coll, "occluder", 0)
    mat = bpy.data.materials.new("occpose_test_white")
    mat.diffuse_color = (1.0, 1.0, 1.0, 1.0)
    obj.data.materials.append(mat)
    return scene, obj


def _workbench():
    from occpose.config import RenderSection

    return RenderSection(engine="workbench", resolution=[160, 120], samples=16)


def centroid(path) -> np.ndarray:
    from PIL import Image

    img = np.asarray(Image.open(path).convert("L"), np.float64)
    img = np.where(img > 8, img, 0.0)
    v, u = np.mgrid[0:img.shape[0], 0:img.shape[1]]
    return np.array([(img * (u + 0.5)).sum(), (img * (v + 0.5)).sum()]) / img.sum()


@pytest.mark.parametrize("distorted", [False, True], ids=["pinhole", "distorted"])
def test_projected_point_is_rendered_pixel(tmp_path, distorted):
    camera = make_camera(k=(-0.25, 0.1, 0.0), p=(0.002, -0.001)) if distorted else make_camera()
    remap = distortion.remap_for(camera)
    scene, sphere = sphere_scene(camera, remap)
    for i, point in enumerate(POINTS):
        sphere.location = point.tolist()
        render.render_frame(scene, tmp_path / f"{i}.png", remap)
        expected = project_to_2d(world_to_camera(point, camera), camera)
        np.testing.assert_allclose(centroid(tmp_path / f"{i}.png"), expected, atol=0.15 if not distorted else 0.3)


def test_camera_round_trip():
    camera = make_camera()
    scene, _ = sphere_scene(camera)
    back = bridge.camera_from_scene(scene)
    assert (back.width, back.height) == (camera.width, camera.height)
    np.testing.assert_allclose([back.fx, back.fy, back.cx, back.cy],
                               [camera.fx, camera.fy, camera.cx, camera.cy], rtol=1e-5)
    np.testing.assert_allclose(back.rot_world_to_cam, camera.rot_world_to_cam, atol=1e-6)
    np.testing.assert_allclose(back.position, camera.position, atol=1e-6)
