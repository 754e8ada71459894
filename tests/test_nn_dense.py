import numpy as np
import pytest

from crossnet import nn
from crossnet.backend import aesara


def test_dense_output_flattens_and_matches_numpy(rng):
    l_in = nn.InputLayer((None, 2, 3, 4))
    layer = nn.DenseLayer(l_in, 5, b=nn.init.Normal(1.0),
                          nonlinearity=nn.nonlinearities.tanh)
    assert layer.output_shape == (None, 5)
    assert layer.W.get_value().shape == (24, 5)
    x = rng.randn(7, 2, 3, 4).astype("f4")
    f = aesara.function([l_in.input_var], nn.get_output(layer))
    expected = np.tanh(x.reshape(7, -1) @ layer.W.get_value() + layer.b.get_value())
    np.testing.assert_allclose(f(x), expected, rtol=1e-5, atol=1e-6)


def test_dense_gradient(rng):
    l_in = nn.InputLayer((None, 6))
    # smooth nonlinearity: finite differences across a ReLU kink are noise
    layer = nn.DenseLayer(l_in, 4, W=rng.randn(6, 4) * 0.5,
                          nonlinearity=nn.nonlinearities.tanh)
    out = nn.get_output(layer)

    def fn(x, w):
        return aesara.clone_replace(out, {l_in.input_var: x, layer.W: w}).sum()
    aesara.gradient.verify_grad(fn, [rng.randn(3, 6).astype("f4"),
                                     layer.W.get_value()], rng=rng,
                                abs_tol=1e-2, rel_tol=1e-2, eps=1e-2)


def test_no_bias():
    layer = nn.DenseLayer(nn.InputLayer((None, 3)), 2, b=None)
    assert layer.b is None and nn.count_params(layer) == 6


def test_initial_value_of_wrong_shape_names_the_parameter():
    with pytest.raises(ValueError, match=r"fc1\.W.*\(4, 2\).*\(3, 2\)"):
        nn.DenseLayer(nn.InputLayer((None, 3)), 2, W=np.zeros((4, 2)), name="fc1")


def test_nonlinearities():
    x = aesara.tensor.vector("x", dtype="float32")
    v = np.array([-2.0, 0.0, 3.0], "f4")
    leaky = aesara.function([x], nn.nonlinearities.LeakyRectify(0.2)(x))(v)
    np.testing.assert_allclose(leaky, [-0.4, 0.0, 3.0], rtol=1e-6)
    relu = aesara.function([x], nn.nonlinearities.relu(x))(v)
    np.testing.assert_allclose(relu, [0.0, 0.0, 3.0])
    sig = aesara.function([x], nn.nonlinearities.sigmoid(x))(v)
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-v)), rtol=1e-5)
