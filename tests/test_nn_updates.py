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
