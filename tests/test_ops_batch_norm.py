"""Training-mode batch norm Ops against numpy and aesara's elementwise graph."""
import numpy as np
import pytest

from crossnet import nn, ops
from crossnet.backend import aesara, at
from crossnet.benchmark import thread_limit
from crossnet.ops.batch_norm import (BatchNormAct, BatchNormActGrad, BatchStats,
                                     BatchStatsGrad, batch_norm_act,
                                     batch_stats)
from aesara.gradient import verify_grad


def _close(a, b, tol=1e-4):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, np.abs(b).max()))


# (9, 32, 15, 20): 86,400 floats, read split over images (batch_norm.c's
# CNB_SPLIT_MIN is 65,536), planes of 300 floats: a full and a part block
@pytest.mark.parametrize("shape", [(1, 3, 4, 5), (7, 32, 6, 6), (2, 1, 9, 3),
                                   (9, 32, 15, 20)])
@pytest.mark.parametrize("leak", [1.0, 0.2, 0.0])
def test_forward_matches_numpy(shape, leak):
    rng = np.random.RandomState(0)
    x_v = (3 + 2 * rng.randn(*shape)).astype("float32")
    gamma_v = rng.randn(shape[1]).astype("float32")
    beta_v = rng.randn(shape[1]).astype("float32")
    x = at.tensor4("x")
    gamma, beta = at.vectors("gamma", "beta")
    mean, inv_std = batch_stats(x, 1e-4)
    y = batch_norm_act(x, mean, inv_std, gamma, beta, leak)
    y_v, m_v, s_v = aesara.function([x, gamma, beta], [y, mean, inv_std])(
        x_v, gamma_v, beta_v)
    x64 = x_v.astype("f8")
    m = x64.mean((0, 2, 3))
    s = 1 / np.sqrt(x64.var((0, 2, 3)) + 1e-4)
    z = (x64 - m[:, None, None]) * (gamma_v * s)[:, None, None] + beta_v[:, None, None]
    _close(m_v, m)
    _close(s_v, s)
    _close(y_v, np.where(z > 0, z, leak * z))


def _layer_graph(x_v, leak, use_ops):
    """BatchNormLayer + NonlinearityLayer in training mode: output, gradients
    of a loss w.r.t. input, gamma and beta, and the running averages after
    one call."""
    with ops.training_ops(use_ops):
        x = at.tensor4("x")
        nn.init.set_rng(0)
        l_in = nn.InputLayer((None,) + x_v.shape[1:], x)
        bn = nn.BatchNormLayer(l_in, gamma=nn.init.Normal(0.3, mean=1.0),
                               beta=nn.init.Normal(0.3))
        nl = nn.NonlinearityLayer(
            bn, nn.nonlinearities.LeakyRectify(leak) if leak else nn.nonlinearities.relu)
        y = nn.get_output(nl)
        loss = (y * at.sin(y)).sum()
        grads = aesara.grad(loss, [x, bn.gamma, bn.beta])
        fn = aesara.function([x], [y] + grads)
        kinds = {type(n.op).__name__ for n in fn.maker.fgraph.apply_nodes}
        out = fn(x_v)
        return out + [bn.mean.get_value(), bn.inv_std.get_value()], kinds, fn


@pytest.mark.parametrize("shape", [(5, 4, 6, 7), (9, 32, 15, 20)])
@pytest.mark.parametrize("leak", [0.2, 0.0])
def test_layer_equals_aesaras_graph_with_gradients_and_running_averages(leak, shape):
    rng = np.random.RandomState(1)
    x_v = (1 + rng.randn(*shape)).astype("float32")
    ours, kinds, fn = _layer_graph(x_v, leak, True)
    theirs, kinds_ref, _ = _layer_graph(x_v, leak, False)
    assert {"BatchStats", "BatchNormAct", "BatchNormActGrad"} <= kinds
    assert "BatchStats" not in kinds_ref
    # the nonlinearity went into the batch-norm pass: one BatchNormAct
    acts = [n for n in fn.maker.fgraph.apply_nodes
            if isinstance(n.op, BatchNormAct)]
    assert [n.op.leak for n in acts] == [leak]
    # x's gradient is one pass: the statistics' part adds the normalisation's
    stats_grads = [n.op.accumulate for n in fn.maker.fgraph.apply_nodes
                   if isinstance(n.op, BatchStatsGrad)]
    assert stats_grads == [True]
    for a, b in zip(ours, theirs):
        _close(a, b)


def test_statistics_in_one_pass_do_not_cancel():
    """Mean far from zero, and an outlier as the channel's first value: the
    one-pass statistics stay at float32 accuracy (a sum of squares minus
    the squared mean would lose the variance of 1e3 + N(0, 1))."""
    x = at.tensor4()
    f = aesara.function([x], BatchStats(epsilon=1e-4)(x))
    rng = np.random.RandomState(0)
    offset = 1e3 + rng.randn(6, 3, 17, 35)
    outlier = rng.randn(6, 3, 17, 35)
    outlier[0, :, 0, 0] = 1e3
    for X in (offset.astype("float32"), outlier.astype("float32")):
        mean, inv_std = f(X)
        x64 = X.astype("float64")
        np.testing.assert_allclose(mean, x64.mean((0, 2, 3)), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(inv_std, 1 / np.sqrt(x64.var((0, 2, 3)) + 1e-4),
                                   rtol=1e-5)


def test_stats_grad_accumulates_into_base():
    rng = np.random.RandomState(6)
    x_v = rng.randn(3, 4, 5, 6).astype("float32")
    base_v = rng.randn(3, 4, 5, 6).astype("float32")
    vec = [rng.randn(4).astype("float32") for _ in range(4)]
    vec[1] = np.abs(vec[1]) + 0.5                     # inv_std > 0
    x, base = at.tensor4s("x", "base")
    m, s, gm, gs = at.vectors("m", "s", "gm", "gs")
    plain = BatchStatsGrad()(x, m, s, gm, gs)
    summed = BatchStatsGrad(accumulate=True)(x, m, s, gm, gs, base)
    fn = aesara.function([x, m, s, gm, gs, base], [plain, summed],
                         mode=aesara.compile.mode.get_mode("FAST_RUN").excluding(
                             "fuse_stats_grad_add"))
    one, two = fn(x_v, *vec, base_v)
    _close(two, base_v + one, 1e-6)
    node = summed.owner
    py = [None]
    node.op.perform(node, [x_v] + vec + [base_v], [py])
    _close(py[0], two, 1e-5)
    with pytest.raises(TypeError, match="sixth input"):
        BatchStatsGrad(accumulate=True)(x, m, s, gm, gs)


def test_verify_grad_of_the_composition():
    rng = np.random.RandomState(2)

    def f(x, gamma, beta):
        mean, inv_std = batch_stats(x, 1e-3)
        return batch_norm_act(x, mean, inv_std, gamma, beta, 0.3)

    args = [rng.randn(3, 2, 3, 4), 1 + 0.2 * rng.randn(2), rng.randn(2)]
    verify_grad(f, [a.astype("float32") for a in args], rng=rng, eps=1e-2,
                abs_tol=2e-2, rel_tol=2e-2)


@pytest.mark.parametrize("shape", [(9, 32, 8, 8), (9, 32, 15, 20)])
def test_results_do_not_depend_on_the_number_of_threads(shape):
    rng = np.random.RandomState(3)
    x_v = rng.randn(*shape).astype("float32")
    _, _, fn = _layer_graph(x_v, 0.2, True)
    with thread_limit(1):
        one = fn(x_v)
    with thread_limit(2):
        two = fn(x_v)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


def test_large_and_small_inputs_give_the_same_bits_per_channel():
    """A large x is read split over images, a small one a channel at a
    time; the sums are added in the same order, so a channel's statistics
    and gradients do not depend on which path ran (nor on the other
    channels): x (9, 32, 15, 20) against its first 7 channels."""
    rng = np.random.RandomState(4)
    x_v = (2 + 3 * rng.randn(9, 32, 15, 20)).astype("float32")
    gy_v = rng.randn(*x_v.shape).astype("float32")
    gamma_v, beta_v = (rng.randn(32).astype("float32") for _ in range(2))
    x, gy = at.tensor4("x"), at.tensor4("gy")
    gamma, beta = at.vectors("gamma", "beta")
    mean, inv_std = BatchStats(1e-4)(x)
    grads = BatchNormActGrad(0.2)(x, mean, inv_std, gamma, beta, gy)
    fn = aesara.function([x, gy, gamma, beta], [mean, inv_std] + list(grads))
    large = fn(x_v, gy_v, gamma_v, beta_v)
    small = fn(x_v[:, :7].copy(), gy_v[:, :7].copy(), gamma_v[:7], beta_v[:7])
    for a, b in zip(large, small):
        part = a[:, :7] if a.ndim == 4 else a[:7]
        assert np.array_equal(part, b)


def test_other_inputs_keep_the_elementwise_graph():
    x = at.matrix("x")
    bn = nn.BatchNormLayer(nn.InputLayer((None, 5), x))
    fn = aesara.function([x], nn.get_output(bn))
    assert not any(isinstance(n.op, (BatchStats, BatchNormAct))
                   for n in fn.maker.fgraph.apply_nodes)


def test_wrong_shapes_are_named():
    x = at.tensor4("x")
    v = at.vector("v")
    fn = aesara.function([x, v], batch_norm_act(x, v, v, v, v))
    with pytest.raises(ValueError, match="BatchNormAct"):
        fn(np.zeros((2, 3, 4, 4), "float32"), np.zeros(2, "float32"))
    stats = aesara.function([x], batch_stats(x))
    with pytest.raises(ValueError, match="BatchStats"):
        stats(np.zeros((0, 3, 4, 4), "float32"))
