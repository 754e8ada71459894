"""One compile per distinct graph: a second network's copy computes and
updates exactly what its own compile would, on its own variables."""
import numpy as np
import pytest

from crossnet import function_cache, nn
from crossnet.backend import aesara, at


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    monkeypatch.delenv(function_cache.ENV, raising=False)
    function_cache.clear()
    yield
    function_cache.clear()


def _net(seed):
    """A small dense + batch-norm network and an Adam step on it: (x, y,
    loss, updates, params)."""
    nn.init.set_rng(seed)
    l_in = nn.InputLayer((None, 5))
    h = nn.batch_norm(nn.DenseLayer(l_in, 7, b=None))
    out = nn.DenseLayer(h, 2, nonlinearity=nn.nonlinearities.identity)
    x = at.matrix("x", dtype="float32")
    y = at.matrix("y", dtype="float32")
    loss = ((nn.get_output(out, x) - y) ** 2).mean()
    params = nn.get_all_params(out, trainable=True)
    updates = nn.updates.adam(loss, params, learning_rate=0.01)
    return x, y, loss, updates, nn.get_all_params(out)


def _data():
    rng = np.random.RandomState(0)
    return (rng.normal(size=(8, 5)).astype("float32"),
            rng.normal(size=(8, 2)).astype("float32"))


def _train(fn, params, steps=3):
    xv, yv = _data()
    losses = [float(fn(xv, yv)) for _ in range(steps)]
    return losses, [p.get_value() for p in params]


def test_a_copy_trains_its_own_network_as_its_own_compile_would(monkeypatch):
    x, y, loss, updates, params_a = _net(1)
    fn_a = function_cache.function([x, y], loss, updates=updates)
    x, y, loss, updates, params_b = _net(2)
    fn_b = function_cache.function([x, y], loss, updates=updates)
    assert function_cache.stats()["hits"] == 1
    before_a = [p.get_value() for p in params_a]
    losses_b, after_b = _train(fn_b, params_b)
    # the copy wrote network b's variables (batch-norm averages included),
    # not a's
    for p, v in zip(params_a, before_a):
        assert np.array_equal(p.get_value(), v), p.name
    # network b again, compiled from scratch
    monkeypatch.setenv(function_cache.ENV, "0")
    x, y, loss, updates, params_c = _net(2)
    fn_c = function_cache.function([x, y], loss, updates=updates)
    losses_c, after_c = _train(fn_c, params_c)
    assert losses_b == losses_c
    for vb, vc in zip(after_b, after_c):
        assert np.array_equal(vb, vc)
    assert function_cache.stats()["hits"] == 1
    # and the first function still trains a
    losses_a, _ = _train(fn_a, params_a, 1)
    assert losses_a[0] != losses_b[0]


def test_single_and_list_outputs_keep_their_form():
    x = at.vector("x", dtype="float32")
    w = aesara.shared(np.float32(2.0), name="w")
    first = function_cache.function([x], x * w)
    w2 = aesara.shared(np.float32(3.0), name="w")
    single = function_cache.function([x], x * w2)
    as_list = function_cache.function([x], [x * w2])
    assert function_cache.stats() == {"hits": 1, "misses": 2, "size": 2}
    v = np.arange(3, dtype="float32")
    np.testing.assert_array_equal(first(v), 2 * v)
    np.testing.assert_array_equal(single(v), 3 * v)
    assert isinstance(as_list(v), list)


@pytest.mark.parametrize("change", ["constant", "op", "input type", "wiring",
                                    "shared type", "update"])
def test_any_difference_in_the_graph_compiles_anew(change):
    def build(variant):
        x = at.matrix("x", dtype="float32")
        z = (at.vector("z", dtype="float32") if variant == "input type"
             else at.matrix("z", dtype="float32"))
        w = aesara.shared(np.ones((3, 3), dtype="float64" if variant ==
                                  "shared type" else "float32"), name="w")
        a, b = (z, x) if variant == "wiring" else (x, z)
        c = np.float32(0.5 if variant == "constant" else 0.25)
        op = at.tanh if variant == "op" else at.sin
        out = op(a * c) + b
        upd = {w: w * (2 if variant == "update" else 3)}
        return [x, z], (out * w).sum(), upd
    inputs, out, upd = build(None)
    function_cache.function(inputs, out, updates=upd)
    inputs, out, upd = build(None)
    function_cache.function(inputs, out, updates=upd)
    assert function_cache.stats()["hits"] == 1
    inputs, out, upd = build(change)
    function_cache.function(inputs, out, updates=upd)
    assert function_cache.stats() == {"hits": 1, "misses": 2, "size": 2}


def test_the_flags_turn_it_off_and_key_it(monkeypatch):
    x = at.vector("x", dtype="float32")
    function_cache.function([x], at.exp(x))
    with aesara.config.change_flags(optimizer="fast_compile"):
        function_cache.function([x], at.exp(x))
    assert function_cache.stats()["misses"] == 2
    monkeypatch.setenv(function_cache.ENV, "0")
    function_cache.function([x], at.exp(x))
    assert function_cache.stats() == {"hits": 0, "misses": 2, "size": 2}


def test_an_unused_input_is_part_of_the_key():
    x = at.vector("x", dtype="float32")
    function_cache.function([x], at.exp(x), on_unused_input="ignore")
    unused = at.vector("unused", dtype="float32")
    two = function_cache.function([x, unused], at.exp(x),
                                  on_unused_input="ignore")
    assert function_cache.stats()["misses"] == 2
    v = np.zeros(2, dtype="float32")
    np.testing.assert_array_equal(two(v, v), np.ones(2))


def test_default_updates_are_part_of_the_key():
    x = at.vector("x", dtype="float32")

    def build(factor):
        s = aesara.shared(np.float32(0), name="s")
        s.default_update = s + np.float32(factor)
        return s, x + s
    s1, out1 = build(1)
    f1 = function_cache.function([x], out1)
    s2, out2 = build(2)
    f2 = function_cache.function([x], out2)
    assert function_cache.stats()["misses"] == 2
    s3, out3 = build(2)
    f3 = function_cache.function([x], out3)
    assert function_cache.stats()["hits"] == 1
    v = np.zeros(1, dtype="float32")
    f2(v)
    f3(v)
    f3(v)
    f1(v)
    assert (s1.get_value(), s2.get_value(), s3.get_value()) == (1, 2, 4)
