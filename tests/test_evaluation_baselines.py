"""Baselines: the constant pose is the training mean; ridge recovers a
linear map from pixels and picks its penalty without the test frames."""
import numpy as np

from crossnet.conventions import UNIT_MM
from crossnet.evaluation.baselines import constant_pose, ridge_on_pixels


def _frames(rng, n, S=8, J=4, A=None):
    depth = rng.uniform(-1, 1, (n, S, S)).astype("float32")
    A = rng.randn(S * S, J * 3) * 0.05 if A is None else A
    rel = (depth.reshape(n, -1) @ A).reshape(n, J, 3)
    origin = rng.randn(n, 3) * 0.1
    return {"depth": depth, "pose": rel - origin[:, None], "origin": origin}, rel


def test_constant_pose_is_the_training_mean_in_mm():
    rng = np.random.RandomState(0)
    train, rel = _frames(rng, 50)
    pred = constant_pose(train, 3)
    assert pred.shape == (3, 4, 3)
    np.testing.assert_allclose(pred[2], rel.mean(0) * UNIT_MM, rtol=1e-6)


def test_ridge_recovers_a_linear_map_from_pixels():
    rng = np.random.RandomState(1)
    A = rng.randn(64, 12) * 0.05
    train, _ = _frames(rng, 400, A=A)
    test, rel = _frames(rng, 20, A=A)          # new frames, same map
    pred, alpha = ridge_on_pixels(train, test["depth"][:20])
    assert alpha in (1e-1, 1.0, 1e1)
    err = np.abs(pred - rel[:20] * UNIT_MM).max()
    const = np.abs(constant_pose(train, 20) - rel[:20] * UNIT_MM).max()
    assert err < 0.05 * const


def test_ridge_fits_equal_a_direct_solve_in_primal_and_dual_form():
    from crossnet.evaluation.baselines import _ridge_fits
    rng = np.random.RandomState(2)
    for n, d in ((30, 10), (10, 30)):          # primal (N >= D), dual (N < D)
        X, Y = rng.randn(n, d), rng.randn(n, 4)
        fits = _ridge_fits(X, Y, [0.5, 20.0])
        for alpha, (W, b) in zip([0.5, 20.0], fits):
            Xc, Yc = X - X.mean(0), Y - Y.mean(0)
            W_ref = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(d), Xc.T @ Yc)
            np.testing.assert_allclose(W, W_ref, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(b, Y.mean(0) - X.mean(0) @ W_ref,
                                       rtol=1e-8, atol=1e-10)


def test_ridge_fit_from_the_moments_of_two_row_sets_equals_the_direct_one():
    from crossnet.evaluation.baselines import _moments, _ridge_fits
    rng = np.random.RandomState(3)
    X, Y = rng.randn(40, 6) + 3, rng.randn(40, 2)   # offset: centring matters
    summed = [a + b for a, b in zip(_moments(X[:31], Y[:31]),
                                    _moments(X[31:], Y[31:]))]
    (W, b), = _ridge_fits(None, None, [2.0], summed)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    W_ref = np.linalg.solve(Xc.T @ Xc + 2.0 * np.eye(6), Xc.T @ Yc)
    np.testing.assert_allclose(W, W_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b, Y.mean(0) - X.mean(0) @ W_ref, rtol=1e-8,
                               atol=1e-10)
