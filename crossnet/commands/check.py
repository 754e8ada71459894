"""``crossnet check``: compile a small network forward and backward."""
import json
import time

import numpy as np


def add_arguments(parser):
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of text")


def run(args):
    from .. import backend, nn
    from ..backend import aesara

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
    ops = sorted({type(n.op).__name__ for n in step.maker.fgraph.toposort()
                  if "Corr" in type(n.op).__name__})
    result = dict(backend.describe(), compile_s=round(compile_s, 2),
                  conv_ops=ops, loss_first=losses[0], loss_last=losses[-1])
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print("%-14s %s" % (k, v))
        ok = losses[-1] < losses[0] and "CorrMM" in ops
        print("OK: aesara compiles and trains a conv network on this machine"
              if ok else "PROBLEM: the loss did not fall or CorrMM is missing")
    return 0 if losses[-1] < losses[0] else 1
