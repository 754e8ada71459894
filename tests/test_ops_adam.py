"""AdamStep (one node for all parameters) against numpy and the per-parameter graph."""
import numpy as np
import pytest

from crossnet import nn, ops
from crossnet.backend import aesara, at
from crossnet.benchmark import thread_limit
from crossnet.ops import adam as adam_module
from crossnet.ops.adam import AdamStep, adam_step

SHAPES = [(), (5,), (3, 4), (2, 3, 6, 6), (70000,)]


def _numpy_step(a_t, p, g, m, v, b1, b2, eps):
    p, g, m, v = (x.astype("f8") for x in (p, g, m, v))
    m1 = b1 * m + (1 - b1) * g
    v1 = b2 * v + (1 - b2) * g ** 2
    return p - a_t * m1 / (eps + np.sqrt(v1)), m1, v1


def _random_state(rng):
    p = [np.asarray(rng.randn(*s), "f4") for s in SHAPES]
    g = [np.asarray(rng.randn(*s), "f4") for s in SHAPES]
    m = [np.asarray(0.1 * rng.randn(*s), "f4") for s in SHAPES]
    v = [np.asarray(rng.rand(*s), "f4") for s in SHAPES]
    return p, g, m, v


def _step_fn(beta1=0.5, beta2=0.999, eps=1e-8):
    a_t = at.scalar("a_t", dtype="float32")
    groups = [[at.TensorType("float32", shape=(None,) * len(s))() for s in SHAPES]
              for _ in range(4)]
    new_p, new_m, new_v = adam_step(a_t, *groups, beta1, beta2, eps)
    return aesara.function([a_t] + sum(groups, []), new_p + new_m + new_v)


@pytest.mark.parametrize("kernel", ["c", "numpy"])
def test_step_matches_numpy(kernel, monkeypatch):
    if kernel == "numpy":
        monkeypatch.setattr(adam_module, "_kernel", lambda: None)
    rng = np.random.RandomState(0)
    p, g, m, v = _random_state(rng)
    out = _step_fn()(np.float32(0.01), *(p + g + m + v))
    n = len(SHAPES)
    for i in range(n):
        want = _numpy_step(0.01, p[i], g[i], m[i], v[i], 0.5, 0.999, 1e-8)
        for got, exp in zip((out[i], out[n + i], out[2 * n + i]), want):
            assert got.shape == SHAPES[i] and got.dtype == np.float32
            np.testing.assert_allclose(got, exp, rtol=1e-5,
                                       atol=1e-6 * max(1.0, np.abs(exp).max()))
    # inputs are not overwritten
    np.testing.assert_array_equal(p[0], _random_state(np.random.RandomState(0))[0][0])


def test_threads_do_not_change_the_result():
    rng = np.random.RandomState(1)
    state = sum(_random_state(rng), [])
    fn = _step_fn()
    with thread_limit(1):
        one = fn(np.float32(0.003), *state)
    with thread_limit(2):
        two = fn(np.float32(0.003), *state)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def _train(use_ops, steps=3):
    rng = np.random.RandomState(2)
    with ops.training_ops(use_ops):
        params = [aesara.shared(rng.randn(*s).astype("f4"), name="p%d" % i)
                  for i, s in enumerate([(4, 3), (3,), (2, 2, 6, 6)])]
        x = at.matrix("x")
        loss = sum(((x.sum() + i) * p ** 2).sum() for i, p in enumerate(params))
        updates = nn.updates.adam(loss, params, learning_rate=0.01, beta1=0.5)
        fn = aesara.function([x], loss, updates=updates)
    losses = [float(fn(np.full((2, 2), k, "f4"))) for k in range(steps)]
    return fn, losses, [p.get_value() for p in params]


def test_updates_adam_is_one_node_and_equals_the_per_parameter_graph():
    fn, losses, values = _train(True)
    names = [type(node.op).__name__ for node in fn.maker.fgraph.toposort()]
    assert names.count("AdamStep") == 1
    fn_ref, losses_ref, values_ref = _train(False)
    assert "AdamStep" not in [type(node.op).__name__
                              for node in fn_ref.maker.fgraph.toposort()]
    np.testing.assert_allclose(losses, losses_ref, rtol=1e-6)
    for a, b in zip(values, values_ref):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_bad_inputs_are_named():
    a_t = at.scalar(dtype="float32")
    p, g, m, v = at.matrices("p", "g", "m", "v")
    with pytest.raises(ValueError, match="takes a_t and 4 tensors"):
        AdamStep(0.9, 0.999, 1e-8, 1)(a_t, p, g, m)
    with pytest.raises(TypeError, match="float32 only; parameter 0"):
        AdamStep(0.9, 0.999, 1e-8, 1)(a_t, p, at.dmatrix(), m, v)
    with pytest.raises(ValueError, match="parameter 0's p, g, m, v ranks differ"):
        AdamStep(0.9, 0.999, 1e-8, 1)(a_t, p, at.vector(dtype="float32"), m, v)
    with pytest.raises(TypeError, match="a_t must be a float32 scalar"):
        AdamStep(0.9, 0.999, 1e-8, 1)(at.dscalar(), p, g, m, v)
    with pytest.raises(ValueError, match="at least one parameter"):
        AdamStep(0.9, 0.999, 1e-8, 0)
    fn = aesara.function([a_t, p, g, m, v],
                         AdamStep(0.9, 0.999, 1e-8, 1)(a_t, p, g, m, v))
    ones = np.ones((2, 3), "f4")
    with pytest.raises(ValueError, match=r"parameter 0 \(2, 3\), gradient \(3, 2\)"):
        fn(np.float32(0.1), ones, ones.T.copy(), ones, ones)
