"""Pose estimation on a user's own depth frames (``crossnet estimate``).

Each frame goes through the preprocessing of training (:mod:`crossnet.data
.preprocess`: hand centre, cube crop, depth normalisation; nothing here is
a second copy) and the BN-folded posterior path
(:class:`crossnet.inference.FoldedPosterior`). Joints come back in the
image's (u, v, d) (pixels, mm) and in xyz mm with y up, the authors'
convention (SPEC section 5), whatever the sign of the given ``fy``.
"""
import numpy as np

from .camera import Camera, RELEASE_CAMERAS
from .conventions import CUBE_MM
from .data.common import DataError
from .data.depth_files import read_depth_file
from .data.preprocess import BadFrame, PreprocessParams, crop_frame, find_centre

__all__ = ["camera_from_text", "estimate_files", "FrameResult"]


def camera_from_text(text):
    """'fx,fy,cx,cy' (pixels) or a preset name (icvl, nyu, msra: the
    datasets' cameras) -> (fx, fy, cx, cy)."""
    if text in RELEASE_CAMERAS:
        c = RELEASE_CAMERAS[text]
        return (c.fx, c.fy, c.cx, c.cy)
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(np.isfinite(values)) or values[0] == 0 \
            or values[1] == 0:
        raise ValueError("--camera must be fx,fy,cx,cy in pixels (non-zero "
                         "focal lengths) or one of %s, got %r"
                         % (", ".join(RELEASE_CAMERAS), text))
    return values


class FrameResult(dict):
    """One frame: ``image``, and either ``uvd``/``xyz`` (J, 3), ``centre``
    (3,) xyz mm, ``crop`` (S, S) with ``crop_px`` (J, 2) and its
    ``geometry`` (:class:`~crossnet.data.preprocess.CropGeometry`), or
    ``error``."""


def estimate_files(net, paths, intrinsics, centres_uvd=None, cube_mm=CUBE_MM,
                   batch_size=64):
    """[FrameResult] for each depth file in ``paths`` (same order).

    ``intrinsics`` (fx, fy, cx, cy); ``centres_uvd`` None (centre-of-mass
    detector) or a (u, v, d) per path. A frame without a hand in range, or
    unreadable, gets ``error`` (a sentence naming the file), not an
    exception."""
    from .inference import FoldedPosterior
    fx, fy, cx, cy = intrinsics
    cfg = net.config
    results, crops, owners = [], [], []
    for k, path in enumerate(paths):
        res = FrameResult(image=path)
        results.append(res)
        try:
            depth = read_depth_file(path)
            H, W = depth.shape
            # y up internally: the networks were trained in that frame
            camera = Camera(fx, -abs(fy), cx, cy, W, H)
            params = PreprocessParams(cfg.dataset, float(cube_mm),
                                      cfg.image_size, camera, cfg.root_joint,
                                      "file" if centres_uvd is not None else "com")
            given = None
            if centres_uvd is not None:
                given = camera.uvd_to_xyz(np.asarray(centres_uvd[k], float))
            centre = find_centre(depth, params, provided=given)
            crop, geom = crop_frame(depth, centre, params)
        except (BadFrame, DataError) as exc:
            res["error"] = "%s: %s" % (path, exc) if path not in str(exc) \
                else str(exc)
            continue
        res.update(centre=geom.centre, crop=crop, geometry=geom)
        crops.append(crop)
        owners.append(res)
    if crops:
        estimate = FoldedPosterior(net)
        crops = np.stack(crops)
        rel = np.concatenate([estimate(crops[i:i + batch_size])
                              for i in range(0, len(crops), batch_size)])
        for res, joints in zip(owners, rel):
            xyz = joints.astype(np.float64) + res["centre"]
            res["xyz"] = xyz
            res["uvd"] = res["geometry"].camera.xyz_to_uvd(xyz)
            res["crop_px"] = res["geometry"].xyz_to_crop(xyz)
    return results
