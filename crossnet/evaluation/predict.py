"""Pose estimates of a trained CrossingNet on a cache file."""
import numpy as np

from ..conventions import NYU_EVAL_JOINTS
from . import metrics

__all__ = ["predict_cache", "evaluate_cache", "benchmark_joints",
           "predicted_uvd"]


def predict_cache(net, cache, batch_size=128, fast=False):
    """(pred xyz (N, J, 3), ground-truth xyz (N, J, 3)) in mm, release
    camera, for every frame of ``cache`` (a CacheDataset), in order.

    ``fast=True`` uses the BN-folded inference path
    (:class:`crossnet.inference.FoldedPosterior`, equal to the training
    graph to 1e-4 in units of 50 mm, about 10x faster: paper_experiments/
    README.md has the numbers); it copies the weights once, so use it on a
    loaded checkpoint, not during training."""
    estimate = net.estimate
    if fast:
        from ..inference import FoldedPosterior
        estimate = FoldedPosterior(net)
    preds, gts = [], []
    for start in range(0, len(cache), batch_size):
        idx = np.arange(start, min(start + batch_size, len(cache)))
        b = cache.read(idx, ("depth", "centre", "xyz"))
        rel_mm = estimate(b["depth"])
        preds.append(rel_mm + b["centre"][:, None, :])
        gts.append(b["xyz"])
    return np.concatenate(preds), np.concatenate(gts)


def benchmark_joints(xyz, dataset):
    """The joints the public benchmark evaluates (NYU: 14 of 36)."""
    return xyz[:, NYU_EVAL_JOINTS] if dataset == "nyu" and xyz.shape[1] == 36 else xyz


def evaluate_cache(net, cache, batch_size=128):
    """dict(mean_error_mm, per_joint_mm, max_error_curve) on a cache."""
    pred, gt = predict_cache(net, cache, batch_size)
    ds = cache.params.dataset
    errors = metrics.joint_errors(benchmark_joints(pred, ds),
                                  benchmark_joints(gt, ds))
    return metrics.summarise(errors)


def predicted_uvd(net, cache, batch_size=128, fast=False):
    """Predictions as (u, v, d) with the dataset's own camera (the camera its
    labels were converted with), benchmark joints only."""
    pred, _ = predict_cache(net, cache, batch_size, fast)
    pred = benchmark_joints(pred, cache.params.dataset)
    return cache.params.camera.xyz_to_uvd(pred)

