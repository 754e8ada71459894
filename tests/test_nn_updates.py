import numpy as np

from crossnet import nn
from crossnet.backend import aesara


def test_adam_two_steps_match_hand_computation():
    w = aesara.shared(np.array([1.0, -2.0], "f4"), name="w")
    lr = aesara.shared(np.float32(0.1), name="lr")
    loss = (w ** 2).sum()  # grad = 2 w
    updates = nn.updates.adam(loss, [w], learning_rate=lr, beta1=0.5)
    step = aesara.function([], loss, updates=updates)

    p = np.array([1.0, -2.0])
    m = np.zeros(2)
    v = np.zeros(2)
    for t, rate in ((1, 0.1), (2, 0.05)):
        lr.set_value(np.float32(rate))  # schedule without recompiling
        step()
        g = 2 * p
        m = 0.5 * m + 0.5 * g
        v = 0.999 * v + 0.001 * g ** 2
        a = rate * np.sqrt(1 - 0.999 ** t) / (1 - 0.5 ** t)
        p = p - a * m / (np.sqrt(v) + 1e-8)
        np.testing.assert_allclose(w.get_value(), p, rtol=1e-5)
    state = nn.updates.optimizer_state(updates, [w])
    assert [s.name for s in state] == ["w_adam_m", "w_adam_v", "adam_t"]
    assert float(state[-1].get_value()) == 2.0


def _bn_dense(seed):
    rng = np.random.RandomState(seed)
    l_in = nn.InputLayer((None, 3))
    dense = nn.DenseLayer(l_in, 4, b=None, W=rng.randn(3, 4).astype("f4"),
                          nonlinearity=nn.nonlinearities.identity)
    return l_in, dense, nn.BatchNormLayer(dense)


def test_after_update_equals_a_second_function():
    """A step and the next one in one function (after_update) give the bits
    of two functions: outputs, weights, Adam's state and the batch-norm
    averages, which the second step moves on from the first's values."""
    x_val = (np.random.RandomState(1).randn(6, 3) * 2 + 1).astype("f4")
    results = []
    for fused in (False, True):
        l_in, dense, bn = _bn_dense(0)
        x = l_in.input_var
        out = nn.get_output(bn)                 # moves bn's averages
        first = (out ** 2).mean()
        updates = nn.updates.adam(first, [dense.W], learning_rate=0.1)
        second = (out * np.arange(1, 5, dtype="f4")).sum()
        if fused:
            second, running = nn.updates.after_update(second, updates)
            assert set(running) and all(v.tag.moving_average for v in running)
            step = aesara.function([x], [first, second],
                                   updates=list(updates.items())
                                   + list(running.items()))
            got = step(x_val)
        else:
            step1 = aesara.function([x], first, updates=updates)
            step2 = aesara.function([x], second)
            got = [step1(x_val), step2(x_val)]
        results.append([np.asarray(v) for v in got]
                       + [p.get_value() for p in nn.get_all_params(bn)]
                       + [s.get_value() for s in nn.updates.optimizer_state(
                           updates, [dense.W])])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    # the averages moved twice, the second time with the new weights
    mean0 = (x_val @ _bn_dense(0)[1].W.get_value()).mean(0)
    mean1 = (x_val @ results[1][2]).mean(0)
    np.testing.assert_allclose(results[1][5], 0.9 * 0.1 * mean0 + 0.1 * mean1,
                               rtol=1e-4, atol=1e-5)
