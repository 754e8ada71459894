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
