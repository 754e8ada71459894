import numpy as np
import pytest
from scipy import signal

from crossnet import nn
from crossnet.backend import aesara


def conv_reference(x, W, stride, pad, flip):
    """Plain scipy convolution: true convolution if flip, else correlation."""
    B, C, H, Wd = x.shape
    F = W.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    op = signal.convolve2d if flip else signal.correlate2d
    out = None
    for b in range(B):
        for f in range(F):
            acc = sum(op(xp[b, c], W[f, c], mode="valid") for c in range(C))
            acc = acc[::stride, ::stride]
            if out is None:
                out = np.zeros((B, F) + acc.shape)
            out[b, f] = acc
    return out


def transposed_reference(x, W, stride, crop, flip_filters):
    """Scatter each input pixel times the kernel (W is (C_in, C_out, k, k))."""
    B, C, H, Wd = x.shape
    k = W.shape[2]
    K = W if flip_filters else W[:, :, ::-1, ::-1]
    full = np.zeros((B, W.shape[1], (H - 1) * stride + k, (Wd - 1) * stride + k))
    for i in range(H):
        for j in range(Wd):
            full[:, :, i * stride:i * stride + k, j * stride:j * stride + k] += \
                np.einsum("bc,cokl->bokl", x[:, :, i, j], K)
    return full[:, :, crop:full.shape[2] - crop, crop:full.shape[3] - crop]


@pytest.mark.parametrize("flip", [True, False])
def test_conv_matches_scipy_stride2_pad2_6x6(rng, flip):
    l_in = nn.InputLayer((None, 3, 16, 16))
    layer = nn.Conv2DLayer(l_in, 4, 6, stride=2, pad=2, flip_filters=flip,
                           b=nn.init.Normal(1.0), nonlinearity=None)
    assert layer.output_shape == (None, 4, 8, 8)
    f = aesara.function([l_in.input_var], nn.get_output(layer))
    x = rng.randn(2, 3, 16, 16).astype("f4")
    expected = conv_reference(x, layer.W.get_value(), 2, 2, flip) \
        + layer.b.get_value()[None, :, None, None]
    np.testing.assert_allclose(f(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("flip", [False, True])
def test_transposed_conv_matches_scatter_reference(rng, flip):
    l_in = nn.InputLayer((None, 3, 4, 4))
    layer = nn.TransposedConv2DLayer(l_in, 2, 6, stride=2, crop=2,
                                     flip_filters=flip, nonlinearity=None,
                                     W=nn.init.Normal(1.0), b=None)
    assert layer.output_shape == (None, 2, 8, 8)
    assert layer.W.get_value().shape == (3, 2, 6, 6)
    f = aesara.function([l_in.input_var], nn.get_output(layer))
    x = rng.randn(2, 3, 4, 4).astype("f4")
    np.testing.assert_allclose(
        f(x), transposed_reference(x, layer.W.get_value(), 2, 2, flip),
        rtol=1e-4, atol=1e-4)


def test_transposed_conv_is_adjoint_of_true_conv(rng):
    """<conv_W(x), y> == <x, convT_W(y)> for the same W (flip conventions)."""
    W = rng.randn(4, 3, 6, 6).astype("f4")
    l_x = nn.InputLayer((None, 3, 16, 16))
    conv = nn.Conv2DLayer(l_x, 4, 6, stride=2, pad=2, W=W, b=None,
                          nonlinearity=None)  # true convolution
    l_y = nn.InputLayer((None, 4, 8, 8))
    convT = nn.TransposedConv2DLayer(l_y, 3, 6, stride=2, crop=2, W=W, b=None,
                                     nonlinearity=None)
    f = aesara.function([l_x.input_var], nn.get_output(conv))
    g = aesara.function([l_y.input_var], nn.get_output(convT))
    x = rng.randn(1, 3, 16, 16).astype("f4")
    y = rng.randn(1, 4, 8, 8).astype("f4")
    lhs = float((f(x).astype("f8") * y).sum())
    rhs = float((x.astype("f8") * g(y)).sum())
    assert abs(lhs - rhs) < 1e-3 * max(1.0, abs(lhs))


def check_grad(layer, x, rng):
    """verify_grad of sum(output) w.r.t. the input and the layer's W."""
    l_in = nn.get_all_layers(layer)[0]
    out = nn.get_output(layer)

    def fn(inp, w):
        return aesara.clone_replace(out, {l_in.input_var: inp,
                                          layer.W: w}).sum()
    aesara.gradient.verify_grad(fn, [x, layer.W.get_value()], rng=rng,
                                abs_tol=2e-2, rel_tol=2e-2, eps=1e-2)


def test_conv_gradient(rng):
    l_in = nn.InputLayer((None, 2, 10, 10))
    layer = nn.Conv2DLayer(l_in, 3, 6, stride=2, pad=2, nonlinearity=None,
                           W=nn.init.Normal(0.5))
    check_grad(layer, rng.randn(2, 2, 10, 10).astype("f4"), rng)


def test_transposed_conv_gradient(rng):
    l_in = nn.InputLayer((None, 2, 3, 3))
    layer = nn.TransposedConv2DLayer(l_in, 3, 6, stride=2, crop=2,
                                     nonlinearity=None, W=nn.init.Normal(0.5))
    check_grad(layer, rng.randn(2, 2, 3, 3).astype("f4"), rng)


def test_param_counts_and_tags():
    l_in = nn.InputLayer((None, 1, 128, 128))
    conv = nn.Conv2DLayer(l_in, 32, 6, stride=2, pad=2)
    assert nn.count_params(conv) == 32 * 36 + 32
    assert conv.b in conv.get_params(trainable=True)
    assert conv.b not in conv.get_params(regularizable=True)
    assert conv.W in conv.get_params(regularizable=True)


def test_bad_input_rank_is_a_clear_value_error():
    l_in = nn.InputLayer((None, 128, 128))
    with pytest.raises(ValueError, match="Conv2DLayer.*4-d input.*128, 128"):
        nn.Conv2DLayer(l_in, 32, 6, name="conv1")


def test_filter_larger_than_input_is_rejected():
    l_in = nn.InputLayer((None, 1, 3, 3))
    with pytest.raises(ValueError, match="does not fit"):
        nn.Conv2DLayer(l_in, 4, 6, stride=2, pad=0)
