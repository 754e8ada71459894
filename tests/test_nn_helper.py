import numpy as np
import pytest

from crossnet import nn
from crossnet.backend import aesara


def _net():
    l_in = nn.InputLayer((None, 4), name="in")
    a = nn.DenseLayer(l_in, 3, name="a")
    b = nn.DenseLayer(l_in, 2, name="b")
    cat = nn.ConcatLayer([a, b], name="cat")
    top = nn.DenseLayer(cat, 1, name="top")
    return l_in, a, b, cat, top


def test_layer_order_is_inputs_first_depth_first():
    l_in, a, b, cat, top = _net()
    assert nn.get_all_layers(top) == [l_in, a, b, cat, top]
    assert [p.name for p in nn.get_all_params(top)] == [
        "a.W", "a.b", "b.W", "b.b", "top.W", "top.b"]


def test_param_values_round_trip_and_errors(rng):
    *_, top = _net()
    values = [rng.randn(*v.shape).astype("f4")
              for v in nn.get_all_param_values(top)]
    nn.set_all_param_values(top, values)
    for got, want in zip(nn.get_all_param_values(top), values):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="5 arrays given.*6 parameters"):
        nn.set_all_param_values(top, values[:5])
    bad = list(values)
    bad[2] = np.zeros((5, 3), "f4")
    with pytest.raises(ValueError, match=r"x.npz.*arr_2.*\(5, 3\).*b\.W.*'b'.*\(4, 2\)"):
        nn.set_all_param_values(top, bad, source="x.npz")
    bad[2] = np.full((4, 2), np.nan, "f4")
    with pytest.raises(ValueError, match="NaN"):
        nn.set_all_param_values(top, bad)
    # nothing was set by the failed calls
    np.testing.assert_array_equal(nn.get_all_param_values(top)[2], values[2])


def test_get_output_with_dict_cuts_graph(rng):
    l_in, a, b, cat, top = _net()
    x = aesara.tensor.matrix("x", dtype="float32")
    out = nn.get_output(cat, {a: x, b: x[:, :2]})
    f = aesara.function([x], out)
    v = rng.randn(2, 3).astype("f4")
    np.testing.assert_allclose(f(v), np.concatenate([v, v[:, :2]], axis=1))


def test_get_output_rejects_wrong_rank():
    l_in, *_, top = _net()
    with pytest.raises(ValueError, match="3 dimensions"):
        nn.get_output(top, aesara.tensor.tensor3("x", dtype="float32"))


def test_shape_layers(rng):
    l_in = nn.InputLayer((None, 32 * 16))
    r = nn.ReshapeLayer(l_in, ([0], 32, 4, 4))
    s = nn.SliceLayer(nn.InputLayer((None, 23)), slice(0, 20), axis=1)
    assert r.output_shape == (None, 32, 4, 4)
    assert s.output_shape == (None, 20)
    with pytest.raises(ValueError, match="cannot reshape"):
        nn.ReshapeLayer(l_in, ([0], 32, 4, 5))
    x = rng.randn(2, 512).astype("f4")
    f = aesara.function([l_in.input_var], nn.get_output(r))
    np.testing.assert_array_equal(f(x), x.reshape(2, 32, 4, 4))
    with pytest.raises(ValueError, match="differ outside axis"):
        nn.ConcatLayer([nn.InputLayer((None, 3, 4)), nn.InputLayer((None, 3, 5))])
