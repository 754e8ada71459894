import numpy as np
import pytest

from crossnet.evaluation import metrics


def test_known_errors_and_curves():
    gt = np.zeros((4, 2, 3))
    pred = gt.copy()
    pred[0, 0, 0] = 3.0              # frame 0: errors (3, 0)
    pred[1, 1] = [0, 4.0, 3.0]       # frame 1: errors (0, 5)
    pred[2, :, 2] = 10.5             # frame 2: errors (10.5, 10.5)
    pred[3, 0, 1] = 80.0             # frame 3: errors (80, 0)
    err = metrics.joint_errors(pred, gt)
    np.testing.assert_allclose(err, [[3, 0], [0, 5], [10.5, 10.5], [80, 0]])
    np.testing.assert_allclose(metrics.per_joint_error(err), [23.375, 3.875])
    assert metrics.mean_error(err) == pytest.approx(13.625)
    curve = metrics.success_rate_max(err)
    assert len(curve) == 81
    assert curve[2] == 0 and curve[3] == 0.25 and curve[5] == 0.5
    assert curve[10] == 0.5 and curve[11] == 0.75 and curve[80] == 1.0
    mean_curve = metrics.success_rate_mean(err)   # frame means 1.5, 2.5, 10.5, 40
    assert mean_curve[1] == 0 and mean_curve[2] == 0.25 and mean_curve[3] == 0.5
    assert mean_curve[39] == 0.75 and mean_curve[40] == 1.0


def test_shape_mismatch():
    with pytest.raises(ValueError, match="must both be"):
        metrics.joint_errors(np.zeros((2, 14, 3)), np.zeros((2, 16, 3)))


def test_uvd_evaluation_uses_benchmark_camera_and_icvl_seq1():
    gt = np.tile([[160.0, 120.0, 500.0]], (800, 16, 1))
    pred = gt[:702].copy()
    pred[..., 0] += 240.99 / 500 * 10     # 10 mm to the right at 500 mm
    err = metrics.evaluate_uvd(pred, gt, "icvl")
    assert err.shape == (702, 16)
    np.testing.assert_allclose(err, 10.0)
