"""``crossnet check``: compile a small network forward and backward,
once with crossnet's training Ops and once with aesara's CorrMM."""
import json
import time

import numpy as np


def add_arguments(parser):
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of text")


def _train_small_net(use_training_ops):
    """Conv + BN + ReLU + transposed conv with Adam, 20 updates: (compile s,
    sorted conv Op names, losses)."""
    from .. import nn, ops
    from ..backend import aesara

    with ops.training_ops(use_training_ops):
        l_in = nn.InputLayer((None, 1, 32, 32))
        lay = nn.batch_norm(nn.Conv2DLayer(l_in, 8, 6, stride=2, pad=2, b=None))
        lay = nn.TransposedConv2DLayer(lay, 1, 6, stride=2, crop=2,
                                       nonlinearity=nn.nonlinearities.tanh)
        loss = ((nn.get_output(lay) - l_in.input_var) ** 2).mean()
    params = nn.get_all_params(lay, trainable=True)
    updates = nn.updates.adam(loss, params, learning_rate=1e-3, beta1=0.5)
    start = time.perf_counter()
    step = aesara.function([l_in.input_var], loss, updates=updates)
    compile_s = time.perf_counter() - start
    x = np.random.RandomState(0).rand(4, 1, 32, 32).astype("float32")
    losses = [float(step(x)) for _ in range(20)]
    names = sorted({type(n.op).__name__ for n in step.maker.fgraph.toposort()
                    if "Corr" in type(n.op).__name__
                    or "Batch" in type(n.op).__name__})
    return compile_s, names, losses


def run(args):
    from .. import backend

    result = dict(backend.describe())
    ok = True
    for key, use in (("crossnet_ops", True), ("aesara_ops", False)):
        compile_s, names, losses = _train_small_net(use)
        result[key] = {"compile_s": round(compile_s, 2), "ops": names,
                       "loss_first": losses[0], "loss_last": losses[-1]}
        ok = ok and losses[-1] < losses[0]
    ok = ok and "Corr6x6S2" in result["crossnet_ops"]["ops"] \
        and "CorrMM" in result["aesara_ops"]["ops"]
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print("%-14s %s" % (k, v))
        print("OK: aesara compiles and trains a conv network on this machine, "
              "with crossnet's C Ops and with aesara's CorrMM" if ok else
              "PROBLEM: a loss did not fall or a convolution Op is missing")
    return 0 if ok else 1
