"""Simple baselines every experiment prints beside its networks.

* :func:`constant_pose`: the mean training pose (in the crop frame) for
  every test frame: the error a method must beat to have learnt anything;
* :func:`ridge_on_pixels`: ridge regression from raw crop pixels to the
  normalised joints (closed form, numpy), its penalty chosen on a held-out
  tenth of the *training* frames, then refitted on all of them.

Both take the labelled training frames as arrays and return predicted
joints in mm relative to the crop centre, the frame of
:meth:`crossnet.networks.CrossingNet.estimate`.
"""
import numpy as np

from ..conventions import UNIT_MM

__all__ = ["constant_pose", "ridge_on_pixels", "RIDGE_ALPHAS",
           "evaluate_baselines"]

RIDGE_ALPHAS = (1e-1, 1.0, 1e1, 1e2, 1e3, 1e4)


def _targets(batch):
    """(N, J*3) joints / 50 mm relative to the crop centre."""
    rel = batch["pose"] + batch["origin"][:, None]
    return rel.reshape(len(rel), -1).astype(np.float64)


def constant_pose(train, num_test):
    """(num_test, J, 3) mm: the mean of the training joints (crop frame)."""
    mean = _targets(train).mean(axis=0)
    J = train["pose"].shape[1]
    return np.repeat(mean.reshape(1, J, 3) * UNIT_MM, num_test, axis=0)


def _ridge_fits(X, Y, alphas, moments=None):
    """[(W (D, K), b (K,))] of Y ~ X W + b with an unpenalised intercept,
    one per penalty in ``alphas``, from one Gram matrix (Cholesky solves).
    ``moments``: :func:`_moments` of (X, Y) when already known (then X and
    Y are not read; only with N >= D)."""
    from scipy.linalg import cho_factor, cho_solve
    dual = moments is None and X.shape[0] < X.shape[1]      # N x N system
    if dual:
        mx, my = X.mean(axis=0), Y.mean(axis=0)
        Xc = X - mx
        gram, rhs = Xc @ Xc.T, Y - my
    else:
        n, sum_x, sum_y, xx, xy = moments or _moments(X, Y)
        mx, my = sum_x / n, sum_y / n
        gram = xx - n * np.outer(mx, mx)        # centred X^T X
        rhs = xy - n * np.outer(mx, my)         # centred X^T Y
    fits = []
    for alpha in alphas:
        system = gram.copy()
        system[np.diag_indices_from(system)] += alpha
        A = cho_solve(cho_factor(system, overwrite_a=True), rhs)
        W = Xc.T @ A if dual else A
        fits.append((W, my - mx @ W))
    return fits


def _moments(X, Y):
    """[N, sum X, sum Y, X^T X, X^T Y]: what a primal ridge fit reads; the
    moments of two sets of rows add up to those of their union."""
    return [len(X), X.sum(axis=0), Y.sum(axis=0), X.T @ X, X.T @ Y]


def ridge_on_pixels(train, test_depth, alphas=RIDGE_ALPHAS, seed=0):
    """(predicted (N_test, J, 3) mm, chosen alpha). ``train``: dict with
    depth (N, S, S), pose, origin; ``test_depth`` (N_test, S, S). Runs BLAS
    on all cores (the Gram matrix of 64x64 crops is 4096 x 4096; with more
    frames than pixels, the refit on all frames adds the held-out tenth's
    Gram matrix to the fitting frames' instead of recomputing it)."""
    from ..backend import blas_threads
    X = train["depth"].reshape(len(train["depth"]), -1).astype(np.float64)
    Y = _targets(train)
    if len(X) < 10:
        raise ValueError("ridge baseline needs at least 10 labelled frames, "
                         "got %d" % len(X))
    perm = np.random.RandomState(seed).permutation(len(X))
    n_val = max(1, len(X) // 10)
    val, fit = perm[:n_val], perm[n_val:]
    with blas_threads():
        fit_moments = all_moments = None
        if len(fit) >= X.shape[1]:          # primal: moments add up
            fit_moments = _moments(X[fit], Y[fit])
            all_moments = [a + b for a, b in zip(
                fit_moments, _moments(X[val], Y[val]))]
        errors = [np.mean((X[val] @ W + b - Y[val]) ** 2)
                  for W, b in _ridge_fits(X[fit], Y[fit], alphas, fit_moments)]
        alpha = alphas[int(np.argmin(errors))]
        (W, b), = _ridge_fits(X, Y, [alpha], all_moments)
        Xt = test_depth.reshape(len(test_depth), -1).astype(np.float64)
        pred = Xt @ W + b
    J = train["pose"].shape[1]
    return pred.reshape(len(Xt), J, 3) * UNIT_MM, float(alpha)


def evaluate_baselines(train_cache, train_indices, test_cache):
    """{'constant pose': summary, 'ridge on pixels': summary} on the test
    cache, fitted on the labelled ``train_indices`` of the training cache
    (summaries as :func:`crossnet.evaluation.metrics.summarise`, with
    ``name``; the ridge one also has ``alpha``)."""
    from . import metrics
    from .predict import benchmark_joints
    train = train_cache.read(np.sort(train_indices), ("depth", "pose", "origin"))
    test = test_cache.read(np.arange(len(test_cache)), ("depth", "centre", "xyz"))
    ds = test_cache.params.dataset
    gt = benchmark_joints(test["xyz"], ds)
    out = {}
    const = constant_pose(train, len(gt)) + test["centre"][:, None]
    out["constant pose"] = metrics.summarise(metrics.joint_errors(
        benchmark_joints(const, ds), gt))
    ridge, alpha = ridge_on_pixels(train, test["depth"])
    ridge = ridge + test["centre"][:, None]
    out["ridge on pixels"] = metrics.summarise(metrics.joint_errors(
        benchmark_joints(ridge, ds), gt))
    out["ridge on pixels"]["alpha"] = alpha
    for name, r in out.items():
        r["name"] = name
    return out
