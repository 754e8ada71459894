"""Hand pose metrics on 3-D joints (mm), as in the public benchmark tools.

* mean joint error: mean over joints of each joint's mean error over frames;
* per-joint mean error (J,);
* success rate, max criterion: fraction of frames whose *largest* joint error
  is <= D mm, D = 0, 1, ..., 80 (whole mm, counted with ``<=``);
* success rate, mean criterion: the same with each frame's mean joint error.
"""
import numpy as np

from ..camera import camera_for
from ..conventions import NYU_EVAL_JOINTS

__all__ = ["joint_errors", "mean_error", "per_joint_error",
           "success_rate_max", "success_rate_mean", "THRESHOLDS_MM",
           "evaluate_uvd", "summarise", "NYU_EVAL_JOINTS", "ICVL_SEQ1_FRAMES"]

THRESHOLDS_MM = np.arange(0, 81)
# some published ICVL predictions cover only test_seq_1, the first 702 frames
ICVL_SEQ1_FRAMES = 702


def joint_errors(pred_xyz, gt_xyz):
    """(N, J) Euclidean distances in mm between (N, J, 3) arrays."""
    pred_xyz = np.asarray(pred_xyz, dtype=np.float64)
    gt_xyz = np.asarray(gt_xyz, dtype=np.float64)
    if pred_xyz.shape != gt_xyz.shape or pred_xyz.ndim != 3:
        raise ValueError("predictions %s and ground truth %s must both be "
                         "(N, J, 3)" % (pred_xyz.shape, gt_xyz.shape))
    return np.sqrt(((pred_xyz - gt_xyz) ** 2).sum(axis=-1))


def per_joint_error(errors):
    return np.asarray(errors).mean(axis=0)


def mean_error(errors):
    """Mean over joints of the per-joint mean errors (mm)."""
    return float(per_joint_error(errors).mean())


def success_rate_max(errors, thresholds=THRESHOLDS_MM):
    """Fraction of frames whose maximum joint error is <= each threshold."""
    worst = np.asarray(errors).max(axis=1)
    return np.array([(worst <= t).mean() for t in thresholds])


def success_rate_mean(errors, thresholds=THRESHOLDS_MM):
    """Fraction of frames whose mean joint error is <= each threshold."""
    avg = np.asarray(errors).mean(axis=1)
    return np.array([(avg <= t).mean() for t in thresholds])


def evaluate_uvd(pred_uvd, gt_uvd, dataset):
    """Errors (N, J) in mm of public-format (u, v, d) arrays.

    Converts both with the benchmark camera of ``dataset`` (SPEC section 7).
    An ICVL prediction of 702 frames is compared with test_seq_1 only.
    """
    pred_uvd = np.asarray(pred_uvd, dtype=np.float64)
    gt_uvd = np.asarray(gt_uvd, dtype=np.float64)
    if (dataset == "icvl" and len(pred_uvd) == ICVL_SEQ1_FRAMES
            and len(gt_uvd) > ICVL_SEQ1_FRAMES):
        gt_uvd = gt_uvd[:ICVL_SEQ1_FRAMES]
    cam = camera_for(dataset, "benchmark")
    return joint_errors(cam.uvd_to_xyz(pred_uvd), cam.uvd_to_xyz(gt_uvd))


def summarise(errors):
    """JSON-able summary of (N, J) errors: frames, mean, per joint, curves."""
    thresholds = [int(t) for t in THRESHOLDS_MM]
    return {
        "frames": int(len(errors)),
        "mean_error_mm": mean_error(errors),
        "per_joint_mm": [float(v) for v in per_joint_error(errors)],
        "max_error_curve": {"thresholds_mm": thresholds, "fraction": [
            float(v) for v in success_rate_max(errors)]},
        "mean_error_curve": {"thresholds_mm": thresholds, "fraction": [
            float(v) for v in success_rate_mean(errors)]},
    }
