"""Person crops by re-projection: a virtual camera rotated to look at the person's box.

As in Sarandi et al., a crop is not a cut-out of the image but the image a pinhole camera at the
same centre would see after rotating to look at the box centre, zoomed so that the box's larger
side fills ``fill`` (90 %) of the crop. The crop is therefore an exact perspective image: its
camera (:class:`Crop`) has a rotation ``rot`` (original camera frame -> crop frame, x right,
y down, z forward), a square-pixel focal length and its principal point at the crop centre, so
3D joints map into the crop by ``rot`` and the crop intrinsics, and crop pixels map back to
original pixels exactly (lens distortion included, through :func:`occpose.camera.project_to_2d`).

Warping: for pinhole cameras the crop is a homography of the image (``K_crop R K^-1``), done by
Pillow's ``PERSPECTIVE`` transform; with lens distortion every crop pixel's ray is projected
through the distortion model and the image is sampled bilinearly (numpy). Pixels outside the
image are black. Pixel convention: occpose's image frame (pixel centres at +0.5), which is also
Pillow's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..camera import Camera, image_to_camera, project_to_2d

__all__ = ["Crop", "joint_box", "make_crop", "warp_image", "crop_to_image", "look_rotation"]


@dataclass(frozen=True, eq=False)
class Crop:
    """The virtual camera of one crop.

    Attributes:
        camera: the original camera (intrinsics, distortion).
        rot: (3, 3) rotation, original camera frame -> crop camera frame.
        focal: crop focal length, pixels (fx = fy).
        size: crop side, pixels; the principal point is (size / 2, size / 2).
    """

    camera: Camera
    rot: np.ndarray
    focal: float
    size: int

    @property
    def intrinsics(self) -> np.ndarray:
        """(4,) float32 (fx, fy, cx, cy) of the crop camera."""
        c = self.size / 2.0
        return np.array([self.focal, self.focal, c, c], dtype=np.float32)

    @property
    def matrix_inverse(self) -> np.ndarray:
        """(3, 3) inverse of :attr:`matrix` (crop pixels -> normalised rays)."""
        c, f = self.size / 2.0, self.focal
        return np.array([[1 / f, 0.0, -c / f], [0.0, 1 / f, -c / f], [0.0, 0.0, 1.0]])

    def to_crop_frame(self, points_cam: np.ndarray) -> np.ndarray:
        """(..., 3) original camera frame -> crop camera frame (metres)."""
        return np.asarray(points_cam, np.float64) @ self.rot.T

    def to_camera_frame(self, points_crop: np.ndarray) -> np.ndarray:
        """(..., 3) crop camera frame -> original camera frame (metres)."""
        return np.asarray(points_crop, np.float64) @ self.rot

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """(..., 3) original camera frame points -> (..., 2) crop pixels."""
        p = self.to_crop_frame(points_cam)
        return p[..., :2] / p[..., 2:3] * self.focal + self.size / 2.0

    def to_image(self, uv_crop: np.ndarray) -> np.ndarray:
        """(..., 2) crop pixels -> (..., 2) original image pixels (with lens distortion)."""
        return crop_to_image(uv_crop, self.rot, self.intrinsics, self.camera)

    def from_image(self, uv_image: np.ndarray) -> np.ndarray:
        """(..., 2) original image pixels -> (..., 2) crop pixels."""
        uv = np.asarray(uv_image, np.float64)
        rays = image_to_camera(uv, np.ones(uv.shape[:-1]), self.camera)
        return self.project(rays)


def crop_to_image(uv_crop: np.ndarray, rot: np.ndarray, intrinsics: np.ndarray,
                  camera: Camera) -> np.ndarray:
    """(..., 2) crop pixels -> original image pixels, for crops given as arrays.

    Args:
        rot: (..., 3, 3) crop rotations; intrinsics: (..., 4) crop (fx, fy, cx, cy), broadcast
            against the leading axes of ``uv_crop`` minus its last-but-one (joint) axis when
            ``uv_crop`` is (B, J, 2) and ``rot`` (B, 3, 3).
    """
    uv = np.asarray(uv_crop, np.float64)
    k = np.asarray(intrinsics, np.float64)
    rot = np.asarray(rot, np.float64)
    if uv.ndim == k.ndim + 1:                    # (B, J, 2) with (B, 4): add the joint axis
        k, rot = k[..., None, :], rot[..., None, :, :]
    x = (uv[..., 0] - k[..., 2]) / k[..., 0]
    y = (uv[..., 1] - k[..., 3]) / k[..., 1]
    ray_crop = np.stack([x, y, np.ones_like(x)], axis=-1)                           # (..., 3)
    ray_cam = np.einsum("...ji,...j->...i", rot, ray_crop)                          # R^T r
    return project_to_2d(ray_cam, camera)


def joint_box(joints_2d: np.ndarray, margin: float = 0.1, min_side: float = 8.0) -> np.ndarray:
    """(4,) box (u0, v0, u1, v1) around projected joints, padded by ``margin`` x its larger side.

    Non-finite joints are ignored; a box smaller than ``min_side`` pixels grows to it.
    """
    uv = np.asarray(joints_2d, np.float64).reshape(-1, 2)
    uv = uv[np.isfinite(uv).all(axis=1)]
    if len(uv) == 0:
        raise ValueError("no finite joint to put a box around")
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    centre = (lo + hi) / 2
    half = np.maximum((hi - lo) / 2 + margin * float((hi - lo).max()), min_side / 2)
    return np.concatenate([centre - half, centre + half])


def look_rotation(direction: np.ndarray, roll: float = 0.0) -> np.ndarray:
    """(3, 3) rotation camera frame -> frame whose z axis is ``direction``, y axis kept down.

    ``roll`` rotates the new frame about its z axis (radians, image-plane rotation).
    """
    z = np.asarray(direction, np.float64)
    z = z / np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z])
    c, s = np.cos(roll), np.sin(roll)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) @ rot


def make_crop(camera: Camera, box: np.ndarray, size: int, fill: float = 0.9, zoom: float = 1.0,
              shift: tuple[float, float] = (0.0, 0.0), roll: float = 0.0) -> Crop:
    """The crop camera looking at ``box`` (u0, v0, u1, v1) original pixels.

    Args:
        size: crop side, pixels.
        fill: fraction of the crop the box's larger side fills (before ``zoom``).
        zoom: extra magnification (> 1 zooms in), for scale augmentation.
        shift: box-centre offset in units of the box's larger side (translation augmentation).
        roll: image-plane rotation, radians (rotation augmentation).
    """
    u0, v0, u1, v1 = (float(b) for b in box)
    side = max(u1 - u0, v1 - v0)
    centre = np.array([(u0 + u1) / 2 + shift[0] * side, (v0 + v1) / 2 + shift[1] * side])
    direction = image_to_camera(centre, np.ones(()), camera)
    rot0 = look_rotation(direction)
    corners = np.array([[u0, v0], [u1, v0], [u0, v1], [u1, v1]])
    rays = image_to_camera(corners, np.ones(4), camera) @ rot0.T                   # (4, 3)
    xy = rays[:, :2] / rays[:, 2:3]
    extent = max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-9)
    focal = fill * size / extent * zoom
    return Crop(camera, look_rotation(direction, roll), focal, int(size))


def warp_image(image: np.ndarray, crop: Crop) -> np.ndarray:
    """The crop of an (H, W, 3) uint8 image: (size, size, 3) uint8, outside pixels black."""
    image = np.asarray(image)
    if crop.camera.has_distortion:
        return _warp_rays(image, crop)
    from PIL import Image

    k = crop.camera.intrinsic_matrix
    h = k @ crop.rot.T @ crop.matrix_inverse                 # crop pixels -> image pixels
    h = h / h[2, 2]
    out = Image.fromarray(image).transform((crop.size, crop.size), Image.PERSPECTIVE,
                                           tuple(h.ravel()[:8]), resample=Image.BILINEAR)
    return np.asarray(out)


def _warp_rays(image: np.ndarray, crop: Crop) -> np.ndarray:
    """Warp through the distortion model: project every crop pixel's ray, sample bilinearly."""
    s = crop.size
    vv, uu = np.mgrid[0:s, 0:s]
    uv = crop.to_image(np.stack([uu + 0.5, vv + 0.5], axis=-1)) - 0.5               # (s, s, 2)
    h, w = image.shape[:2]
    x0, y0 = np.floor(uv[..., 0]), np.floor(uv[..., 1])
    fx, fy = (uv[..., 0] - x0)[..., None], (uv[..., 1] - y0)[..., None]
    img = image.astype(np.float32)
    if img.ndim == 2:
        img = img[..., None]
    out = np.zeros((s, s, img.shape[2]), np.float32)
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                        (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xi, yi = (x0 + dx).astype(np.int64), (y0 + dy).astype(np.int64)
        ok = ((xi >= 0) & (xi < w) & (yi >= 0) & (yi < h))[..., None]
        out += np.where(ok, img[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)], 0.0) * wgt
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out[..., 0] if image.ndim == 2 else out
