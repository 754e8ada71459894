"""The paper's preprocessing (SPEC section 5) and its inverse.

A frame is a depth image in mm (0 = no measurement) with joints in mm (xyz,
release camera, y up). Preprocessing:

1. hand centre: given (NYU's centre files, or the joints' mean for synthetic
   data) or the centre of mass of the nearest depth blob, refined inside the
   cube (:func:`hand_centre_com`);
2. crop: the 250 mm cube around the centre, projected with the camera, is
   resampled (nearest) to ``size`` x ``size``, aspect kept, centred
   (:class:`CropGeometry`);
3. depth: nearer than the cube's front clamps to the front, farther than its
   back (or missing) is background; per image the nearest hand pixel maps to
   -1 and background to +1 (:func:`normalise_depth`);
4. joints: minus the centre, / 50 mm; the root joint is subtracted and kept as
   the 3-d ``origin`` (:func:`normalise_joints`).

:func:`denormalise_joints` inverts 4 (back to mm and, with the camera, uvd).
"""
import json
from collections import namedtuple

import numpy as np

from ..camera import Camera, xyz_to_uvd, uvd_to_xyz
from ..conventions import UNIT_MM

__all__ = ["PreprocessParams", "CropGeometry", "crop_depth", "normalise_depth",
           "normalise_joints", "denormalise_joints", "hand_centre_com",
           "preprocess_frame", "find_centre", "crop_frame", "UNIT_MM",
           "BadFrame"]


class BadFrame(ValueError):
    """A frame that cannot be preprocessed (NaN or no hand pixels)."""


class PreprocessParams(namedtuple("PreprocessParams",
                                  "dataset cube_mm size camera root_joint "
                                  "centre_method")):
    """Everything that determines the preprocessing; stored in caches.

    ``camera`` is a :class:`~crossnet.camera.Camera`; ``centre_method`` is
    how the hand centre is found: 'com', 'file' (NYU's provided centres) or
    'joints' (:data:`crossnet.conventions.CENTRE_METHODS`).
    """

    def to_json(self):
        d = self._asdict()
        d["camera"] = list(self.camera)
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        d["camera"] = Camera(*d["camera"])
        if "centre" in d:            # caches written before the rename
            d["centre_method"] = d.pop("centre")
        return cls(**d)


class CropGeometry(object):
    """Maps between image pixels and crop pixels for one frame.

    The cube of side ``cube_mm`` centred at ``centre`` (xyz mm) spans
    ``half_u = cube/2 * |fx| / z`` and ``half_v = cube/2 * |fy| / z`` pixels
    around the projected centre; ``scale`` (crop px per image px) fits the
    larger of the two into ``size`` pixels.
    """

    def __init__(self, centre, camera, cube_mm=250.0, size=128):
        self.centre = np.asarray(centre, dtype=np.float64)
        if not np.all(np.isfinite(self.centre)) or self.centre[2] <= 0:
            raise BadFrame("hand centre %s is not in front of the camera"
                           % (self.centre,))
        self.camera = camera
        self.cube_mm = float(cube_mm)
        self.size = int(size)
        self.uc, self.vc, _ = xyz_to_uvd(self.centre, camera)
        half = self.cube_mm / 2
        self.half_u = half * abs(camera.fx) / self.centre[2]
        self.half_v = half * abs(camera.fy) / self.centre[2]
        self.scale = self.size / (2 * max(self.half_u, self.half_v))

    def crop_to_image(self, row, col):
        """Crop pixel (row, col) -> image (u, v); pixel centres are at
        integer coordinates in both."""
        c = self.size / 2.0
        return (self.uc + (np.asarray(col) + 0.5 - c) / self.scale,
                self.vc + (np.asarray(row) + 0.5 - c) / self.scale)

    def image_to_crop(self, u, v):
        """Image (u, v) -> crop (col, row), floats."""
        c = self.size / 2.0
        return ((np.asarray(u) - self.uc) * self.scale + c - 0.5,
                (np.asarray(v) - self.vc) * self.scale + c - 0.5)

    def xyz_to_crop(self, xyz):
        """(..., 3) mm -> (..., 2) crop (col, row)."""
        uvd = xyz_to_uvd(xyz, self.camera)
        col, row = self.image_to_crop(uvd[..., 0], uvd[..., 1])
        return np.stack([col, row], axis=-1)

    @property
    def z_front(self):
        return self.centre[2] - self.cube_mm / 2

    @property
    def z_back(self):
        return self.centre[2] + self.cube_mm / 2


def crop_depth(depth, geom):
    """(H, W) depth mm -> (size, size) depth mm, nearest resampling; pixels
    outside the image or outside the cube's projection are 0."""
    idx = np.arange(geom.size)
    u, v = geom.crop_to_image(idx, idx)   # columns, rows
    # image pixel k has its centre at u = k
    cu = np.floor(u + 0.5).astype(np.int64)
    rv = np.floor(v + 0.5).astype(np.int64)
    H, W = depth.shape
    ok_u = (cu >= 0) & (cu < W) & (np.abs(u - geom.uc) <= geom.half_u)
    ok_v = (rv >= 0) & (rv < H) & (np.abs(v - geom.vc) <= geom.half_v)
    out = np.zeros((geom.size, geom.size), dtype=np.float32)
    sub = depth[np.ix_(rv[ok_v], cu[ok_u])]
    out[np.ix_(ok_v, ok_u)] = sub
    return out


def normalise_depth(crop_mm, z_front, z_back):
    """Crop in mm -> [-1, 1]: nearest hand pixel -1, background +1.

    Depths nearer than ``z_front`` clamp to it; depths beyond ``z_back`` and
    missing ones (<= 0) are background. Raises BadFrame if no pixel is left.
    """
    d = np.asarray(crop_mm, dtype=np.float32)
    if not np.all(np.isfinite(d)):
        raise BadFrame("depth holds NaN or inf")
    hand = (d > 0) & (d < z_back)
    if not hand.any():
        raise BadFrame("no depth pixel inside the hand cube")
    d = np.maximum(d, z_front)
    near = d[hand].min()
    span = max(z_back - near, 1e-3)
    out = np.ones(d.shape, dtype=np.float32)     # background exactly +1
    out[hand] = 2 * (d[hand] - near) / span - 1
    return out


def normalise_joints(xyz, centre, root_joint):
    """Joints (J, 3) mm -> (pose (J, 3) root-relative, origin (3,)) in
    units of 50 mm relative to the crop centre."""
    rel = (np.asarray(xyz, dtype=np.float64) - centre) / UNIT_MM
    origin = rel[root_joint].copy()
    return (rel - origin).astype(np.float32), origin.astype(np.float32)


def denormalise_joints(pose, origin, centre, camera=None):
    """Inverse of :func:`normalise_joints`: xyz mm, or uvd with ``camera``.

    ``pose`` (..., J, 3), ``origin`` (..., 3), ``centre`` (..., 3) mm.
    """
    pose = np.asarray(pose, dtype=np.float64)
    xyz = (pose + np.asarray(origin, np.float64)[..., None, :]) * UNIT_MM \
        + np.asarray(centre, np.float64)[..., None, :]
    return xyz if camera is None else xyz_to_uvd(xyz, camera)


def hand_centre_com(depth, camera, cube_mm=250.0, iterations=10,
                    near_band_mm=None):
    """Centre (xyz mm) of the nearest blob, refined inside the cube.

    Start: pixels within ``near_band_mm`` (default the cube size) behind the
    nearest valid depth; their centre of mass in xyz. Then repeatedly keep the
    pixels whose xyz lies in the cube around the current centre and move the
    centre to their centre of mass. Raises BadFrame on empty or NaN depth.
    """
    d = np.asarray(depth, dtype=np.float64)
    if not np.all(np.isfinite(d)):
        raise BadFrame("depth holds NaN or inf")
    valid = d > 0
    if not valid.any():
        raise BadFrame("depth image has no valid pixel (all zero)")
    band = cube_mm if near_band_mm is None else near_band_mm
    rows, cols = np.nonzero(valid & (d <= d[valid].min() + band))
    pts = uvd_to_xyz(np.stack([cols, rows, d[rows, cols]], -1),
                     camera)
    centre = pts.mean(axis=0)
    rows, cols = np.nonzero(valid)
    all_pts = uvd_to_xyz(np.stack([cols, rows, d[rows, cols]], -1),
                         camera)
    half = cube_mm / 2
    for _ in range(iterations):
        inside = np.all(np.abs(all_pts - centre) <= half, axis=1)
        if not inside.any():
            break
        new = all_pts[inside].mean(axis=0)
        if np.linalg.norm(new - centre) < 0.1:
            centre = new
            break
        centre = new
    return centre


def find_centre(depth_mm, params, xyz=None, provided=None):
    """The hand centre (xyz mm) by ``params.centre_method``: 'com' (centre
    of mass of the nearest blob), 'joints' (mean of ``xyz``) or 'file'
    (``provided``)."""
    if params.centre_method == "file":
        if provided is None:
            raise BadFrame("no provided hand centre for this frame")
        return np.asarray(provided, dtype=np.float64)
    if params.centre_method == "joints":
        return np.asarray(xyz, dtype=np.float64).mean(axis=0)
    return hand_centre_com(depth_mm, params.camera, params.cube_mm)


def crop_frame(depth_mm, centre, params):
    """(H, W) depth mm + centre xyz mm -> (crop (S, S) in [-1, 1],
    CropGeometry): the network's input, as in training."""
    geom = CropGeometry(centre, params.camera, params.cube_mm, params.size)
    crop = crop_depth(np.asarray(depth_mm, dtype=np.float32), geom)
    return normalise_depth(crop, geom.z_front, geom.z_back), geom


def preprocess_frame(depth_mm, xyz, centre, params):
    """One frame -> dict(depth (S, S) in [-1, 1], pose (J, 3), origin (3,),
    centre (3,)). ``centre`` is xyz mm (:func:`find_centre`)."""
    depth, geom = crop_frame(depth_mm, centre, params)
    pose, origin = normalise_joints(xyz, geom.centre, params.root_joint)
    return {"depth": depth, "pose": pose, "origin": origin,
            "centre": geom.centre.astype(np.float64)}
