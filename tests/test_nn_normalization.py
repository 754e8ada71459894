import numpy as np
import pytest

from crossnet import nn
from crossnet.backend import aesara


def _bn_net(shape):
    l_in = nn.InputLayer(shape)
    bn = nn.BatchNormLayer(l_in, beta=nn.init.Normal(1.0),
                           gamma=nn.init.Normal(1.0, mean=1.0))
    return l_in, bn


def test_param_order_and_tags():
    l_in, bn = _bn_net((None, 3, 4, 4))
    assert nn.get_all_params(bn) == [bn.beta, bn.gamma, bn.mean, bn.inv_std]
    assert nn.get_all_params(bn, trainable=True) == [bn.beta, bn.gamma]
    assert bn.axes == (0, 2, 3)


def test_training_uses_batch_statistics_and_updates_running_averages(rng):
    l_in, bn = _bn_net((None, 3, 4, 4))
    f = aesara.function([l_in.input_var], nn.get_output(bn))
    x = (rng.randn(8, 3, 4, 4) * 3 + 5).astype("f4")
    y = f(x)
    mean = x.mean(axis=(0, 2, 3))
    inv_std = 1 / np.sqrt(x.var(axis=(0, 2, 3)) + 1e-4)
    g, b = bn.gamma.get_value(), bn.beta.get_value()
    expected = ((x - mean[None, :, None, None]) * (g * inv_std)[None, :, None, None]
                + b[None, :, None, None])
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    # running averages moved by alpha = 0.1 from (0, 1)
    np.testing.assert_allclose(bn.mean.get_value(), 0.1 * mean, rtol=1e-4)
    np.testing.assert_allclose(bn.inv_std.get_value(), 0.9 + 0.1 * inv_std,
                               rtol=1e-4)


def test_update_averages_n_times_equals_n_functions(rng):
    """batch_norm_update_averages=2 moves the averages as two compiled
    functions that each run the forward pass would: the same bits."""
    x = (rng.randn(8, 3, 4, 4) * 3 + 5).astype("f4")
    start = (rng.randn(3).astype("f4"), rng.rand(3).astype("f4") + 0.5)
    results = []
    for calls, moves in ((2, 1), (1, 2)):
        l_in, bn = _bn_net((None, 3, 4, 4))
        bn.mean.set_value(start[0])
        bn.inv_std.set_value(start[1])
        f = aesara.function([l_in.input_var], nn.get_output(
            bn, batch_norm_update_averages=moves))
        for _ in range(calls):
            f(x)
        results.append((bn.mean.get_value(), bn.inv_std.get_value()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    mean = x.mean(axis=(0, 2, 3))
    expected = 0.9 * (0.9 * start[0] + 0.1 * mean) + 0.1 * mean
    np.testing.assert_allclose(results[1][0], expected, rtol=1e-4, atol=1e-5)


def test_deterministic_uses_running_averages_and_leaves_them(rng):
    l_in, bn = _bn_net((None, 5))
    bn.mean.set_value(rng.randn(5).astype("f4"))
    bn.inv_std.set_value(rng.rand(5).astype("f4") + 0.5)
    before = bn.mean.get_value()
    f = aesara.function([l_in.input_var], nn.get_output(bn, deterministic=True))
    x = rng.randn(4, 5).astype("f4")
    expected = ((x - bn.mean.get_value()) * bn.gamma.get_value()
                * bn.inv_std.get_value() + bn.beta.get_value())
    np.testing.assert_allclose(f(x), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bn.mean.get_value(), before)


def test_batch_norm_gradient(rng):
    l_in, bn = _bn_net((None, 2, 3, 3))
    out = nn.get_output(bn, batch_norm_update_averages=False)
    w = aesara.shared(rng.randn(4, 2, 3, 3).astype("f4"))

    def fn(x, gamma):
        return (aesara.clone_replace(out, {l_in.input_var: x, bn.gamma: gamma})
                * w).sum()
    aesara.gradient.verify_grad(fn, [rng.randn(4, 2, 3, 3).astype("f4"),
                                     bn.gamma.get_value()], rng=rng,
                                abs_tol=2e-2, rel_tol=2e-2, eps=1e-2)


def test_batch_norm_helper_moves_nonlinearity_above():
    l_in = nn.InputLayer((None, 1, 8, 8))
    conv = nn.Conv2DLayer(l_in, 2, 3, b=None, name="c1",
                          nonlinearity=nn.nonlinearities.LeakyRectify(0.2))
    top = nn.batch_norm(conv)
    assert isinstance(top, nn.NonlinearityLayer)
    assert isinstance(top.input_layer, nn.BatchNormLayer)
    assert conv.nonlinearity is nn.nonlinearities.identity
    with pytest.raises(ValueError, match="b=None"):
        nn.batch_norm(nn.Conv2DLayer(l_in, 2, 3))


def test_recalibrate_batch_norm_sets_population_statistics(rng):
    # two BN layers in a chain: the second must see the first's *new*
    # statistics (deterministic pass), over all frames, any batch split
    l_in = nn.InputLayer((None, 3, 5, 4))
    bn1 = nn.BatchNormLayer(l_in, beta=nn.init.Normal(1.0),
                            gamma=nn.init.Normal(1.0, mean=1.0))
    sq = nn.NonlinearityLayer(bn1, lambda v: v ** 2)
    bn2 = nn.BatchNormLayer(sq)
    x = (rng.randn(23, 3, 5, 4) * [[[[2.0]], [[0.5]], [[4.0]]]] + 3).astype("f4")
    batches = [x[:10], x[10:17], x[17:]]
    assert nn.recalibrate_batch_norm(bn2, batches) == [bn1, bn2]

    x64 = x.astype(np.float64)
    mean1 = x64.mean(axis=(0, 2, 3))
    var1 = x64.var(axis=(0, 2, 3))
    np.testing.assert_allclose(bn1.mean.get_value(), mean1, rtol=1e-5)
    np.testing.assert_allclose(bn1.inv_std.get_value(),
                               1 / np.sqrt(var1 + 1e-4), rtol=1e-4)
    s = lambda a: a[None, :, None, None]   # noqa: E731
    h = ((x64 - s(mean1)) * s(bn1.gamma.get_value() / np.sqrt(var1 + 1e-4))
         + s(bn1.beta.get_value())) ** 2
    np.testing.assert_allclose(bn2.mean.get_value(), h.mean(axis=(0, 2, 3)),
                               rtol=1e-4)
    np.testing.assert_allclose(bn2.inv_std.get_value(),
                               1 / np.sqrt(h.var(axis=(0, 2, 3)) + 1e-4),
                               rtol=1e-4)
    # one batch of everything gives the same statistics
    before = [bn1.mean.get_value(), bn2.inv_std.get_value()]
    nn.recalibrate_batch_norm(bn2, [x])
    np.testing.assert_allclose(bn1.mean.get_value(), before[0], rtol=1e-5)
    np.testing.assert_allclose(bn2.inv_std.get_value(), before[1], rtol=1e-4)


def test_recalibrate_batch_norm_with_a_cut_input_and_dense_layers(rng):
    l_in = nn.InputLayer((None, 6))
    dense = nn.DenseLayer(l_in, 4, b=None, nonlinearity=None)
    bn = nn.BatchNormLayer(dense)
    x = rng.randn(40, 4).astype("f4") * 3 - 1
    # feed the dense layer's output directly: the input layer is cut off
    nn.recalibrate_batch_norm(bn, [{dense: x[:25]}, {dense: x[25:]}],
                              inputs=[dense])
    np.testing.assert_allclose(bn.mean.get_value(), x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.inv_std.get_value(),
                               1 / np.sqrt(x.astype(np.float64).var(axis=0)
                                           + 1e-4), rtol=1e-4)
    with pytest.raises(ValueError, match="no batches"):
        nn.recalibrate_batch_norm(bn, [], inputs=[dense])


def test_recalibrate_batch_norm_shares_a_pass_per_level(rng):
    # a trunk batch norm under two head batch norms: two levels, so the
    # network runs twice over the batches, and the heads see the trunk's new statistics
    l_in = nn.InputLayer((None, 2, 3, 3))
    trunk = nn.BatchNormLayer(l_in, beta=nn.init.Normal(1.0))
    heads = [nn.BatchNormLayer(nn.NonlinearityLayer(trunk, f))
             for f in (lambda v: v ** 2, lambda v: 3 * v + 1)]
    recal = nn.BatchNormRecalibration(heads)
    assert recal.levels == [1, 2, 2]
    x = (rng.randn(12, 2, 3, 3) * 2 + 1).astype("f4")

    calls = []
    make_pass = recal._pass

    def counting_pass(*args):
        run = make_pass(*args)
        return lambda *a: calls.append(1) or run(*a)
    recal._pass = counting_pass
    recal([x[:5], x[5:]])
    assert len(calls) == 2 * 2          # levels x batches (not layers x)
    x64 = x.astype(np.float64)
    m, v = x64.mean(axis=(0, 2, 3)), x64.var(axis=(0, 2, 3))
    s = lambda a: a[None, :, None, None]   # noqa: E731
    t = (x64 - s(m)) / np.sqrt(s(v) + 1e-4) + s(trunk.beta.get_value())
    for head, f in zip(heads, (lambda v: v ** 2, lambda v: 3 * v + 1)):
        np.testing.assert_allclose(head.mean.get_value(),
                                   f(t).mean(axis=(0, 2, 3)), rtol=1e-4)


@pytest.mark.parametrize("cache_bytes", [0, 2 ** 20])
def test_recalibration_keeps_lower_outputs_and_gives_the_same_statistics(
        rng, cache_bytes):
    # a chain of four levels with a branch that bypasses one of them: the
    # passes from kept outputs give what the passes from the input give
    l_in = nn.InputLayer((None, 2, 4, 4))
    h, bns = l_in, []
    for i in range(4):
        conv = nn.Conv2DLayer(h, 3, 3, pad=1, b=None, nonlinearity=None)
        bns.append(nn.BatchNormLayer(conv, beta=nn.init.Normal(1.0)))
        h = nn.NonlinearityLayer(bns[-1], nn.nonlinearities.LeakyRectify(0.2))
    bypass = nn.BatchNormLayer(nn.ConcatLayer([h, bns[1]], axis=1))
    x = (rng.randn(30, 2, 4, 4) * 2 + 1).astype("f4")
    batches = [x[:13], x[13:]]
    recal = nn.BatchNormRecalibration(bypass, cache_bytes=cache_bytes)
    assert recal.levels == [1, 2, 3, 4, 5]
    recal(batches)
    got = [(bn.mean.get_value(), bn.inv_std.get_value()) for bn in bns + [bypass]]
    kept = {key[2] for key in recal._passes}
    assert (kept != {()}) == (cache_bytes > 0)

    # reference: level by level from the input, in numpy-checked aesara
    from crossnet.backend import at
    v = at.tensor4()
    for bn in bns + [bypass]:
        below = nn.get_output(bn.input_layer, {l_in: v}, deterministic=True)
        y = aesara.function([v], below)(x).astype(np.float64)
        mean, var = y.mean(axis=(0, 2, 3)), y.var(axis=(0, 2, 3))
        bn.mean.set_value(mean.astype("f4"))
        bn.inv_std.set_value((1 / np.sqrt(var + bn.epsilon)).astype("f4"))
    for (m, s_), bn in zip(got, bns + [bypass]):
        np.testing.assert_allclose(m, bn.mean.get_value(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(s_, bn.inv_std.get_value(), rtol=1e-4)
