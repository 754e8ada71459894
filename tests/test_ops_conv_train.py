"""The 6x6 / stride-2 training Ops against aesara's CorrMM path."""
import numpy as np
import pytest

from crossnet import nn, ops
from crossnet.backend import aesara, at
from aesara.gradient import verify_grad
from aesara.tensor.nnet.corr import CorrMM
from crossnet.benchmark import thread_limit
from crossnet.ops.conv_train import (Corr6x6S2, Corr6x6S2GradInputs,
                                     Corr6x6S2GradWeights, fits_corr6x6s2)

# (B, C, F, H, W): batch 1, odd batch with one input channel, one output
# channel, channel counts that are not multiples of 16, a non-square image;
# batches above the weight gradient's 16 chunks of images (chunks of 3 and
# 2 images, the last chunks empty); two input channels under 20 output
# columns (the few-channel input gradient's second vector of pixels cut)
SHAPES = [(1, 32, 32, 8, 8), (3, 1, 32, 16, 16), (5, 32, 1, 12, 12),
          (2, 20, 40, 6, 10), (4, 3, 17, 10, 6), (35, 32, 32, 8, 8),
          (20, 16, 20, 4, 6), (2, 2, 16, 8, 40)]
# shapes the AMX kernels take (where the CPU has them): 16 and 8 pixels per
# tile row, an odd number of output rows, 16 or 64 channels, rows long
# enough for the packers' vector loops and their tails, one input channel,
# 32 and 48 output columns (the pixel-major forward's one and two tiles),
# one-channel input gradients over 16, 48 and 80 columns (one, three and
# four + one groups of 16 pixels)
AMX_SHAPES = [(3, 32, 32, 32, 32), (1, 32, 32, 16, 48), (2, 64, 16, 20, 16),
              (3, 32, 64, 16, 16), (2, 16, 32, 6, 68), (3, 1, 32, 16, 32),
              (2, 1, 16, 10, 16), (2, 64, 32, 6, 64), (1, 32, 64, 4, 96),
              (1, 1, 64, 8, 96), (2, 1, 32, 6, 160)]


# shapes the Winograd path takes (16-channel blocks, output rows of 16 or
# more): blocks of several short tile rows that span images (odd batch, a
# partial last block), a row of 16 tiles (more than one register tile),
# and 16 / 48 channels in and out, non-square
WINOGRAD_SHAPES = [(5, 32, 32, 16, 32), (1, 16, 48, 16, 128),
                   (2, 48, 16, 24, 40)]


def _corrmm_functions():
    x, w, dy = at.tensor4s("x", "w", "dy")
    y = CorrMM(border_mode=(2, 2), subsample=(2, 2))(x, w)
    fwd = aesara.function([x, w], y)
    gi = aesara.function([x, w, dy], aesara.grad(None, x, known_grads={y: dy}),
                         on_unused_input="ignore")
    gw = aesara.function([x, w, dy], aesara.grad(None, w, known_grads={y: dy}),
                         on_unused_input="ignore")
    return fwd, gi, gw


def _our_functions(isa, amx=None, winograd=None):
    x, w, dy = at.tensor4s("x", "w", "dy")
    return (aesara.function([x, w], Corr6x6S2(isa, amx, winograd)(x, w)),
            aesara.function([w, dy],
                            Corr6x6S2GradInputs(isa, amx, winograd)(w, dy)),
            aesara.function([x, dy],
                            Corr6x6S2GradWeights(isa, amx, winograd)(x, dy)))


def _close(a, b):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())


@pytest.fixture(scope="module")
def corrmm():
    return _corrmm_functions()


def _random_case_equal_corrmm(ours, corrmm, shape, rng):
    """Random x, w, dy of (B, C, F, H, W) = shape; our three Ops equal
    CorrMM's on them. Returns (x, w, dy)."""
    B, C, F, H, W = shape
    x = rng.randn(B, C, H, W).astype("float32")
    w = rng.randn(F, C, 6, 6).astype("float32")
    dy = rng.randn(B, F, H // 2, W // 2).astype("float32")
    fwd, gi, gw = ours
    _close(fwd(x, w), corrmm[0](x, w))
    _close(gi(w, dy), corrmm[1](x, w, dy))
    _close(gw(x, dy), corrmm[2](x, w, dy))
    return x, w, dy


@pytest.mark.parametrize("isa", ["native", "avx2", "sse"])
def test_forward_and_gradients_equal_corrmm(corrmm, isa):
    rng = np.random.RandomState(0)
    fwd, gi, gw = ours = _our_functions(isa)
    for shape in SHAPES:
        x, w, dy = _random_case_equal_corrmm(ours, corrmm, shape, rng)
        # a second call with other data (the workspaces are reused)
        _close(fwd(-x, w), -corrmm[0](x, w))


@pytest.mark.parametrize("amx", [True, False])
def test_amx_shapes_equal_corrmm(corrmm, amx):
    """The shapes the AMX (bf16x3) kernels take, with AMX allowed (used
    where the CPU has it) and with the float32 FMA path forced."""
    rng = np.random.RandomState(5)
    fwd, gi, gw = ours = _our_functions("native", amx)
    for shape in AMX_SHAPES:
        x, w, dy = _random_case_equal_corrmm(ours, corrmm, shape, rng)
        x[0, 0, 1, 2] = np.nan         # a NaN reaches the output (not zeroed)
        dy[0, 0, 1, 2] = np.nan
        assert np.isnan(fwd(x, w)).any()
        assert np.isnan(gi(w, dy)).any()
        assert np.isnan(gw(x, dy)).any()


@pytest.mark.parametrize("isa", ["native", "sse"])
@pytest.mark.parametrize("winograd", [True, False])
def test_winograd_shapes_equal_corrmm(corrmm, isa, winograd):
    """The shapes the Winograd paths take (F(4x4, 3x3) forward and input
    gradient, F(3x3, 4x4) weight gradient), with them (on the float32
    path: AMX off) and without; a NaN still reaches the output."""
    rng = np.random.RandomState(6)
    fwd, gi, gw = ours = _our_functions(isa, False, winograd)
    for shape in WINOGRAD_SHAPES:
        x, w, dy = _random_case_equal_corrmm(ours, corrmm, shape, rng)
        x[0, 0, 1, 2] = np.nan
        dy[0, 0, 1, 2] = np.nan
        assert np.isnan(fwd(x, w)).any()
        assert np.isnan(gi(w, dy)).any()
        assert np.isnan(gw(x, dy)).any()


def test_winograd_switch(monkeypatch):
    """CROSSNET_WINOGRAD=0 turns it off; gradients keep the setting."""
    monkeypatch.setenv("CROSSNET_WINOGRAD", "0")
    assert not Corr6x6S2().winograd
    monkeypatch.setenv("CROSSNET_WINOGRAD", "1")
    assert Corr6x6S2().winograd
    assert Corr6x6S2(winograd=True) != Corr6x6S2(winograd=False)
    x, w = at.tensor4s("x", "w")
    gx, gw = aesara.grad(Corr6x6S2(winograd=False)(x, w).sum(), [x, w])
    assert not gx.owner.op.winograd and not gw.owner.op.winograd


def test_amx_switch(monkeypatch):
    """CROSSNET_AMX=0 turns AMX off; the portable paths never use it."""
    monkeypatch.setenv("CROSSNET_AMX", "0")
    assert not Corr6x6S2().amx
    monkeypatch.setenv("CROSSNET_AMX", "1")
    assert Corr6x6S2().amx
    assert not Corr6x6S2("avx2").amx and not Corr6x6S2("sse", amx=True).amx
    assert Corr6x6S2(amx=True) != Corr6x6S2(amx=False)
    x, w = at.tensor4s("x", "w")
    gx, gw = aesara.grad(Corr6x6S2(amx=False)(x, w).sum(), [x, w])
    assert not gx.owner.op.amx and not gw.owner.op.amx


def test_portable_paths_agree_with_native():
    rng = np.random.RandomState(1)
    x = rng.randn(3, 32, 16, 16).astype("float32")
    w = rng.randn(32, 32, 6, 6).astype("float32")
    dy = rng.randn(3, 32, 8, 8).astype("float32")
    results = {}
    for isa in ("native", "avx2", "sse"):
        fwd, gi, gw = _our_functions(isa)
        results[isa] = (fwd(x, w), gi(w, dy), gw(x, dy))
    for isa in ("avx2", "sse"):
        for a, b in zip(results[isa], results["native"]):
            _close(a, b)


# direct tile; Winograd; the direct tile with chunks of several images
@pytest.mark.parametrize("B, H", [(7, 16), (7, 32), (35, 8)])
def test_results_do_not_depend_on_the_number_of_threads(B, H):
    rng = np.random.RandomState(2)
    x = rng.randn(B, 32, H, H).astype("float32")
    w = rng.randn(32, 32, 6, 6).astype("float32")
    dy = rng.randn(B, 32, H // 2, H // 2).astype("float32")
    fns = _our_functions("native")
    args = [(x, w), (w, dy), (x, dy)]
    with thread_limit(1):
        one = [fn(*a) for fn, a in zip(fns, args)]
    with thread_limit(2):
        two = [fn(*a) for fn, a in zip(fns, args)]
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("op", [Corr6x6S2, Corr6x6S2GradInputs,
                                Corr6x6S2GradWeights])
def test_verify_grad(op):
    rng = np.random.RandomState(3)
    B, C, F, H = 2, 3, 2, 6
    x = rng.randn(B, C, H, H)
    w = rng.randn(F, C, 6, 6)
    dy = rng.randn(B, F, H // 2, H // 2)
    args = {Corr6x6S2: (x, w), Corr6x6S2GradInputs: (w, dy),
            Corr6x6S2GradWeights: (x, dy)}[op]
    verify_grad(op(), [a.astype("float32") for a in args], rng=rng,
                eps=1e-2, abs_tol=1e-2, rel_tol=1e-2)


def test_second_derivatives_equal_corrmm():
    """d/dw of |dL/dx|^2 (a chain of all three Ops) equals CorrMM's."""
    rng = np.random.RandomState(4)
    x_v = rng.randn(2, 3, 8, 8).astype("float32")
    w_v = rng.randn(4, 3, 6, 6).astype("float32")
    x, w = at.tensor4s("x", "w")
    values = []
    for y in (Corr6x6S2()(x, w),
              CorrMM(border_mode=(2, 2), subsample=(2, 2))(x, w)):
        gx = aesara.grad((y ** 2).sum(), x)
        values.append(aesara.function([x, w], aesara.grad((gx ** 2).sum(), w))(
            x_v, w_v))
    _close(values[0], values[1])


def test_wrong_shapes_are_named():
    x, w = at.tensor4s("x", "w")
    fn = aesara.function([x, w], Corr6x6S2()(x, w))
    with pytest.raises(ValueError, match="Corr6x6S2.*do not fit"):
        fn(np.zeros((1, 3, 8, 8), "float32"), np.zeros((4, 2, 6, 6), "float32"))
    with pytest.raises(ValueError, match="Corr6x6S2.*even"):
        fn(np.zeros((1, 3, 7, 8), "float32"), np.zeros((4, 3, 6, 6), "float32"))
    with pytest.raises(TypeError, match="float32"):
        Corr6x6S2()(at.tensor4(dtype="float64"), w)


def test_fits():
    assert fits_corr6x6s2((6, 6), (2, 2), (2, 2), (None, 1, 128, 128))
    assert not fits_corr6x6s2((6, 6), (2, 2), (2, 2), (None, 1, 127, 128))
    assert not fits_corr6x6s2((6, 6), (2, 2), (2, 2), (None, 1, None, 128))
    assert not fits_corr6x6s2((5, 5), (2, 2), (2, 2), (None, 1, 128, 128))
    assert not fits_corr6x6s2((6, 6), (1, 1), (2, 2), (None, 1, 128, 128))


def _layer_outputs(build, x_v, use_ops):
    """Output and parameter gradients of a layer, with or without the Ops."""
    with ops.training_ops(use_ops):
        x = at.tensor4("x")
        layer = build(nn.InputLayer((None,) + x_v.shape[1:], x))
        y = nn.get_output(layer)
        params = nn.get_all_params(layer, trainable=True)
        loss = (y * at.cos(y)).sum()
        fn = aesara.function([x], [y, aesara.grad(loss, x)]
                             + aesara.grad(loss, params))
        kinds = {type(n.op).__name__ for n in fn.maker.fgraph.apply_nodes}
        return fn(x_v), kinds


@pytest.mark.parametrize("layer", ["conv", "conv_noflip", "deconv", "deconv_flip"])
def test_layers_use_the_ops_and_agree_with_corrmm(layer):
    rng = np.random.RandomState(5)
    W = nn.init.Normal(0.1)
    builds = {
        "conv": lambda l: nn.Conv2DLayer(l, 4, 6, stride=2, pad=2, W=W),
        "conv_noflip": lambda l: nn.Conv2DLayer(l, 4, 6, stride=2, pad=2, W=W,
                                                flip_filters=False),
        "deconv": lambda l: nn.TransposedConv2DLayer(l, 1, 6, stride=2, crop=2,
                                                     W=W),
        "deconv_flip": lambda l: nn.TransposedConv2DLayer(
            l, 3, 6, stride=2, crop=2, W=W, flip_filters=True),
    }
    x_v = rng.randn(3, 2, 10, 8).astype("float32")
    nn.init.set_rng(0)
    ours, kinds = _layer_outputs(builds[layer], x_v, True)
    nn.init.set_rng(0)
    theirs, kinds_ref = _layer_outputs(builds[layer], x_v, False)
    assert kinds & {"Corr6x6S2", "Corr6x6S2GradInputs"}
    assert not kinds_ref & {"Corr6x6S2", "Corr6x6S2GradInputs"}
    for a, b in zip(ours, theirs):
        _close(a, b)


def test_other_shapes_keep_aesaras_convolution():
    x_v = np.zeros((1, 2, 9, 9), "float32")       # odd size
    _, kinds = _layer_outputs(
        lambda l: nn.Conv2DLayer(l, 4, 6, stride=2, pad=2), x_v, True)
    assert not kinds & {"Corr6x6S2", "Corr6x6S2GradInputs"}
    _, kinds = _layer_outputs(
        lambda l: nn.Conv2DLayer(l, 4, 5, stride=2, pad=2),
        np.zeros((1, 2, 8, 8), "float32"), True)
    assert not kinds & {"Corr6x6S2", "Corr6x6S2GradInputs"}
