"""Pinhole depth cameras and uvd <-> xyz conversion (mm, pixels).

One formula for every camera: ``x = (u - cx) d / fx, y = (v - cy) d / fy,
z = d``. A camera whose y axis points up (the authors' release, and the NYU
benchmark files) has a negative ``fy``: the release's ``y = (cy - v) d / fy``
is this formula with ``-fy``.
"""
from collections import namedtuple

import numpy as np

__all__ = ["Camera", "RELEASE_CAMERAS", "BENCHMARK_CAMERAS", "uvd_to_xyz",
           "xyz_to_uvd", "camera_for"]


class Camera(namedtuple("Camera", "fx fy cx cy width height")):
    """Intrinsics in pixels; ``width`` x ``height`` is the sensor image size."""

    def uvd_to_xyz(self, uvd):
        return uvd_to_xyz(uvd, self)

    def xyz_to_uvd(self, xyz):
        return xyz_to_uvd(xyz, self)


# SPEC section 5: intrinsics of the authors' release (y up).
RELEASE_CAMERAS = {
    "icvl": Camera(241.42, -241.42, 160.0, 120.0, 320, 240),
    "msra": Camera(241.42, -241.42, 160.0, 120.0, 320, 240),
    "nyu": Camera(588.235, -587.084, 320.0, 240.0, 640, 480),
}
# SPEC section 7: intrinsics of the public benchmark files (evaluation).
BENCHMARK_CAMERAS = {
    "icvl": Camera(240.99, 240.96, 160.0, 120.0, 320, 240),
    "nyu": Camera(588.03, -587.07, 320.0, 240.0, 640, 480),
    "msra": Camera(241.42, 241.42, 160.0, 120.0, 320, 240),
}


def camera_for(dataset, convention="release"):
    """The camera of ``dataset`` ('icvl', 'nyu', 'msra', 'synthetic')."""
    table = {"release": RELEASE_CAMERAS, "benchmark": BENCHMARK_CAMERAS}
    if convention not in table:
        raise ValueError("unknown camera convention %r (release, benchmark)"
                         % convention)
    key = "icvl" if dataset == "synthetic" else dataset
    if key not in table[convention]:
        raise ValueError("unknown dataset %r (icvl, nyu, msra, synthetic)"
                         % dataset)
    return table[convention][key]


def uvd_to_xyz(uvd, cam):
    """(..., 3) pixels + depth mm -> (..., 3) mm."""
    uvd = np.asarray(uvd, dtype=np.float64)
    u, v, d = uvd[..., 0], uvd[..., 1], uvd[..., 2]
    return np.stack([(u - cam.cx) * d / cam.fx, (v - cam.cy) * d / cam.fy, d],
                    axis=-1)


def xyz_to_uvd(xyz, cam):
    """(..., 3) mm -> (..., 3) pixels + depth mm (inverse of uvd_to_xyz)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    return np.stack([x * cam.fx / z + cam.cx, y * cam.fy / z + cam.cy, z],
                    axis=-1)
