"""The direct 6x6 / stride-2 convolution Op against numpy, scipy and Lasagne."""
import numpy as np
import pytest
from scipy import signal

from crossnet import nn
from crossnet.backend import aesara, at
from crossnet.ops import (Conv6x6S2, conv6x6s2, correlate6x6_s2p2,
                          from_nhwc_pad2, hwio_kernel, to_nhwc_pad2)


def reference(x, W, b, leak):
    y = correlate6x6_s2p2(x.astype("f8"), W.astype("f8")) + b[None, :, None, None]
    return np.where(y > 0, y, leak * y)


def compiled(op, linker="cvm_nogc"):
    x = at.tensor4(dtype="float32")
    w = at.tensor4(dtype="float32")
    b = at.vector(dtype="float32")
    mode = aesara.compile.mode.Mode(linker=linker, optimizer="fast_run")
    return aesara.function([x, w, b], op(x, w, b), mode=mode)


def run(fn, op, x, W, b):
    xi = to_nhwc_pad2(x) if op.in_layout == "nhwc_pad2" else x
    y = fn(xi, hwio_kernel(W, flip=False), b)
    if op.out_layout == "nhwc_pad2":
        return from_nhwc_pad2(y), y
    return y, None


@pytest.mark.parametrize("shape", [(2, 1, 16, 16, 32), (1, 32, 12, 12, 32),
                                   (3, 5, 7, 9, 64), (1, 3, 2, 3, 32),
                                   (2, 32, 30, 26, 32)])
@pytest.mark.parametrize("layouts", [("nchw", "nchw"), ("nchw", "nhwc_pad2"),
                                     ("nhwc_pad2", "nhwc_pad2"),
                                     ("nhwc_pad2", "nchw")])
def test_direct_conv_matches_numpy(rng, shape, layouts):
    B, C, H, Wd, F = shape
    x = rng.randn(B, C, H, Wd).astype("f4")
    W = rng.randn(F, C, 6, 6).astype("f4")
    b = rng.randn(F).astype("f4")
    op = Conv6x6S2(0.2, *layouts)
    fn = compiled(op)
    y, padded = run(fn, op, x, W, b)
    ref = reference(x, W, b, 0.2)
    assert y.shape == ref.shape == (B, F, (H - 2) // 2 + 1, (Wd - 2) // 2 + 1)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    if padded is not None:      # the border the next layer reads as padding
        inner = np.zeros(padded.shape, bool)
        inner[:, 2:-2, 2:-2] = True
        assert np.all(padded[~inner] == 0)
    # second call with other data: reused buffers give fresh results
    y2, _ = run(fn, op, -x, W, b)
    np.testing.assert_allclose(y2, reference(-x, W, b, 0.2), rtol=1e-4,
                               atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("isa", ["avx2", "sse"])
def test_portable_builds_match_numpy(rng, isa):
    """The Op compiled for a CPU without AVX-512 (as CROSSNET_ISA asks):
    the direct tile (3 input channels) and the Winograd path (32 channels,
    16 output columns)."""
    for B, C, H, Wd, F in [(2, 3, 14, 22, 64), (1, 32, 32, 32, 32)]:
        x = rng.randn(B, C, H, Wd).astype("f4")
        W = rng.randn(F, C, 6, 6).astype("f4")
        b = rng.randn(F).astype("f4")
        op = Conv6x6S2(0.2, "nchw", "nchw", isa=isa)
        y, _ = run(compiled(op), op, x, W, b)
        ref = reference(x, W, b, 0.2)
        np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("layouts", [("nchw", "nchw"), ("nhwc_pad2", "nhwc_pad2"),
                                     ("nhwc_pad2", "nchw")])
def test_winograd_layers_match_numpy_and_follow_new_weights(rng, layouts):
    """Layers the Winograd path takes (16-channel blocks, >= 16 output
    columns; several images per block, a row wider than a register tile),
    with it and without it; the kernel it keeps between calls is made
    again when the weights change (W1, W2, then W1 again)."""
    B, C, H, Wd, F = 3, 16, 16, 112, 32
    x = rng.randn(B, C, H, Wd).astype("f4")
    b = rng.randn(F).astype("f4")
    weights = [rng.randn(F, C, 6, 6).astype("f4") for _ in range(2)]
    for winograd in (True, False):
        op = Conv6x6S2(0.2, *layouts, amx=False, winograd=winograd)
        fn = compiled(op)
        for W in (weights[0], weights[1], weights[0]):
            y, padded = run(fn, op, x, W, b)
            ref = reference(x, W, b, 0.2)
            np.testing.assert_allclose(y, ref, rtol=1e-4,
                                       atol=1e-4 * np.abs(ref).max())
            if padded is not None:
                inner = np.zeros(padded.shape, bool)
                inner[:, 2:-2, 2:-2] = True
                assert np.all(padded[~inner] == 0)


@pytest.mark.parametrize("amx", [True, False])
def test_large_channels_last_layer_matches_numpy(rng, amx):
    """A layer above ops.conv6x6.AMX_MIN_MACS with 32k channels and 16k
    output columns: on AMX tile products where the CPU has them (and
    ``amx``), else the FMA path; both equal numpy, with the zero border."""
    from crossnet.ops.conv6x6 import AMX_MIN_MACS
    B, C, H, Wd, F = 3, 64, 32, 64, 64
    assert B * (H // 2) * (Wd // 2) * F * C * 36 >= AMX_MIN_MACS
    x = rng.randn(B, C, H, Wd).astype("f4")
    W = rng.randn(F, C, 6, 6).astype("f4")
    b = rng.randn(F).astype("f4")
    x[1, 3, 5, 7] = np.nan                  # a NaN reaches its outputs
    op = Conv6x6S2(0.2, "nhwc_pad2", "nhwc_pad2", amx=amx)
    fn = compiled(op)
    y, padded = run(fn, op, x, W, b)
    ref = reference(x, W, b, 0.2)
    # every output the NaN reaches is NaN (Winograd spreads it over the
    # whole 4x4 output tiles that read it)
    assert np.isnan(y[np.isnan(ref)]).all() and np.isnan(ref).any()
    assert np.isnan(y).sum() <= 4 * np.isnan(ref).sum()
    ok = ~np.isnan(y)
    np.testing.assert_allclose(y[ok], ref[ok], rtol=1e-4, atol=1e-4 * np.abs(ref[ok]).max())
    inner = np.zeros(padded.shape, bool)
    inner[:, 2:-2, 2:-2] = True
    assert np.all(padded[~inner] == 0)
    y2, _ = run(fn, op, -np.nan_to_num(x), W, b)
    ref2 = reference(-np.nan_to_num(x), W, b, 0.2)
    np.testing.assert_allclose(y2, ref2, rtol=1e-4, atol=1e-4 * np.abs(ref2).max())


def test_empty_batch(rng):
    fn = compiled(Conv6x6S2(0.2, "nchw", "nhwc_pad2"))
    y = fn(np.zeros((0, 1, 8, 8), "f4"), rng.randn(6, 6, 1, 32).astype("f4"),
           np.zeros(32, "f4"))
    assert y.shape == (0, 8, 8, 32)


def test_python_perform_matches_c_code(rng):
    x = rng.randn(2, 4, 10, 10).astype("f4")
    W = rng.randn(32, 4, 6, 6).astype("f4")
    b = rng.randn(32).astype("f4")
    op = Conv6x6S2(0.1, "nchw", "nhwc_pad2")
    y_c = compiled(op)(x, hwio_kernel(W, False), b)
    y_py = compiled(op, linker="py")(x, hwio_kernel(W, False), b)
    np.testing.assert_allclose(y_c, y_py, rtol=1e-4, atol=1e-4)


def test_openmp_rows_equal_single_thread_bit_for_bit(rng):
    x = rng.randn(2, 32, 64, 64).astype("f4")       # large enough to fork
    W = rng.randn(32, 32, 6, 6).astype("f4")
    b = rng.randn(32).astype("f4")
    args = (to_nhwc_pad2(x), hwio_kernel(W, False), b)
    par = compiled(Conv6x6S2(0.2, "nhwc_pad2", "nchw", openmp=True))(*args)
    one = compiled(Conv6x6S2(0.2, "nhwc_pad2", "nchw", openmp=False))(*args)
    assert np.array_equal(par, one)


def test_true_convolution_equals_lasagne_layer_and_scipy(rng):
    x = rng.randn(1, 3, 12, 12).astype("f4")
    W = rng.randn(32, 3, 6, 6).astype("f4")
    b = rng.randn(32).astype("f4")
    layer = nn.Conv2DLayer((None, 3, 12, 12), 32, 6, stride=2, pad=2, W=W, b=b,
                           nonlinearity=None)
    xs = at.tensor4(dtype="float32")
    lasagne = aesara.function([xs], layer.get_output_for(xs))(x)
    direct = aesara.function([xs], conv6x6s2(
        xs, aesara.shared(hwio_kernel(W, flip=True)), aesara.shared(b), 1.0))(x)
    np.testing.assert_allclose(direct, lasagne, rtol=1e-4, atol=1e-4)
    xp = np.pad(x[0], ((0, 0), (2, 2), (2, 2)))
    scipy_f0 = sum(signal.convolve2d(xp[c], W[0, c], mode="valid")
                   for c in range(3))[::2, ::2] + b[0]
    np.testing.assert_allclose(direct[0, 0], scipy_f0, rtol=1e-4, atol=1e-4)


def test_bad_shapes_are_refused_with_a_reason(rng):
    fn = compiled(Conv6x6S2(0.2))
    x = rng.randn(1, 3, 8, 8).astype("f4")
    with pytest.raises(ValueError, match="multiple of 32"):
        fn(x, rng.randn(6, 6, 3, 48).astype("f4"), np.zeros(48, "f4"))
    with pytest.raises(ValueError, match="Conv6x6S2"):
        fn(x, rng.randn(5, 5, 3, 32).astype("f4"), np.zeros(32, "f4"))
    with pytest.raises(ValueError, match="Conv6x6S2"):
        fn(x, rng.randn(6, 6, 4, 32).astype("f4"), np.zeros(32, "f4"))
    with pytest.raises(ValueError, match="4-d"):
        conv6x6s2(at.matrix(dtype="float32"), at.tensor4(dtype="float32"),
                  at.vector(dtype="float32"))
    with pytest.raises(TypeError, match="float32"):
        conv6x6s2(at.tensor4(dtype="float64"), at.tensor4(dtype="float32"),
                  at.vector(dtype="float32"))
    with pytest.raises(ValueError, match="layout"):
        Conv6x6S2(0.2, "nhwc")
