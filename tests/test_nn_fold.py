"""fold_chain: the folded steps compute the chain's test-mode output; what
cannot be folded raises."""
import numpy as np
import pytest

from crossnet import nn
from crossnet.backend import aesara
from crossnet.inference import numpy_correlate
from crossnet.nn.fold import fold_chain, step_macs


def _randomise(layer, rng):
    for p in nn.get_all_params(layer):
        v = p.get_value()
        if p.name.endswith("inv_std") or p.name.endswith("gamma"):
            p.set_value(rng.uniform(0.5, 1.5, v.shape).astype("f4"))
        else:
            p.set_value(rng.normal(0, 0.3, v.shape).astype("f4"))


def _chain():
    l_in = nn.InputLayer((None, 2, 12, 12))
    h = nn.Conv2DLayer(l_in, 4, 3, stride=1, pad=1, b=None, nonlinearity=None)
    h = nn.BatchNormLayer(h)
    h = nn.NonlinearityLayer(h, nn.nonlinearities.LeakyRectify(0.2))
    h = nn.Conv2DLayer(h, 3, 6, stride=2, pad=2, flip_filters=True,
                       nonlinearity=nn.nonlinearities.relu)
    h = nn.DenseLayer(h, 5, b=None, nonlinearity=None)
    h = nn.batch_norm(h)
    return l_in, nn.DenseLayer(h, 2, nonlinearity=None)


def test_folded_steps_equal_the_test_mode_output():
    l_in, out = _chain()
    _randomise(out, np.random.RandomState(0))
    x = np.random.RandomState(1).normal(size=(3, 2, 12, 12)).astype("f4")
    fn = aesara.function([l_in.input_var], nn.get_output(out, deterministic=True))
    steps = fold_chain(out)
    assert [s.kind for s in steps] == ["conv", "conv", "dense", "dense"]
    assert [s.leak for s in steps] == [0.2, 0.0, 1.0, 1.0]
    h = x
    for s in steps:
        if s.kind == "conv":
            h = numpy_correlate(h, s.W, s.stride, s.pad) + s.b[None, :, None, None]
        else:
            h = h.reshape(len(h), -1) @ s.W + s.b
        h = np.where(h > 0, h, s.leak * h)
    np.testing.assert_allclose(h, fn(x), rtol=1e-4, atol=1e-4)
    assert step_macs(steps[0]) == 12 * 12 * 4 * 2 * 9
    assert step_macs(steps[2]) == 3 * 6 * 6 * 5


def test_what_cannot_be_folded_raises():
    l_in = nn.InputLayer((None, 4))
    with pytest.raises(ValueError, match="nonlinearity.*tanh"):
        fold_chain(nn.DenseLayer(l_in, 3, nonlinearity=nn.nonlinearities.tanh))
    h = nn.DenseLayer(l_in, 3, nonlinearity=nn.nonlinearities.relu)
    with pytest.raises(ValueError, match="must directly follow a linear"):
        fold_chain(nn.BatchNormLayer(h))
    img = nn.InputLayer((None, 1, 8, 8))
    t = nn.TransposedConv2DLayer(img, 2, 6, stride=2, crop=2)
    with pytest.raises(ValueError, match="transposed convolutions"):
        fold_chain(t)
