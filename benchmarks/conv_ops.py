"""The training convolution Ops alone against PyTorch, on the network's shapes.

For every 6x6 / stride-2 layer of the discriminator (conv1-5) and of the
generator (its transposed convolutions: the input-gradient Op forward), at a
crop size and batch, times crossnet's forward, input gradient and weight
gradient Ops (``crossnet.ops.conv_train``) and the same products in PyTorch
(``conv2d``, ``torch.nn.grad.conv2d_input``, ``conv2d_weight``), in one
process, alternating rounds, outputs checked against each other. The layer
shapes come from the layer graph (``CrossingNet``'s discriminator and
generator), not typed here. Prints ms per call, crossnet / PyTorch speed
and GFLOP/s. Run it on an idle machine.

``--isa avx2`` (or ``sse``) times crossnet's portable build, and PyTorch
with oneDNN held to the same instruction set (``ONEDNN_MAX_CPU_ISA``): what
a CPU without AVX-512 would see, measured on one that has it.

    python benchmarks/conv_ops.py [--size 128] [--batch 64] [--threads 2] [--isa avx2]
"""
import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def layer_shapes(size):
    """[(name, C, F, H)]: every 6x6/s2 layer as a correlation from C
    channels at H x H to F channels at H/2 x H/2 (transposed layers
    listed as the correlation they are the adjoint of)."""
    from crossnet import nn
    from crossnet.networks import CrossingNet
    net = CrossingNet("icvl", size, seed=0)
    out = []
    for top in (net.discriminator.output, net.generator.output):
        for lay in nn.get_all_layers(top):
            if isinstance(lay, nn.TransposedConv2DLayer):
                F, C, H = lay.input_shape[1], lay.output_shape[1], lay.output_shape[2]
                out.append((lay.name, C, F, H))
            elif isinstance(lay, nn.Conv2DLayer):
                out.append((lay.name, lay.input_shape[1], lay.output_shape[1],
                            lay.input_shape[2]))
    return out


# oneDNN's name of each instruction set crossnet builds for
ONEDNN_ISA = {"native": None, "avx2": "AVX2", "sse": "SSE41"}


def crossnet_fns(B, C, F, H, isa="native"):
    import aesara
    import aesara.tensor as at
    from crossnet.ops.conv_train import (corr6x6s2, corr6x6s2_grad_inputs,
                                         corr6x6s2_grad_weights)
    x, w, dy = at.tensor4("x"), at.tensor4("w"), at.tensor4("dy")
    return {"forward": aesara.function([x, w], corr6x6s2(x, w, isa)),
            "input grad": aesara.function([w, dy], corr6x6s2_grad_inputs(w, dy, isa)),
            "weight grad": aesara.function([x, dy], corr6x6s2_grad_weights(x, dy, isa))}


def torch_fns():
    import torch
    import torch.nn.functional as Fn
    from torch.nn import grad
    t = torch.from_numpy

    def fwd(x, w):
        with torch.no_grad():
            return Fn.conv2d(t(x), t(w), stride=2, padding=2).numpy()

    def igrad(w, dy):
        with torch.no_grad():
            B, _, Ho, Wo = dy.shape
            return grad.conv2d_input((B, w.shape[1], 2 * Ho, 2 * Wo), t(w), t(dy),
                                     stride=2, padding=2).numpy()

    def wgrad(x, dy):
        with torch.no_grad():
            return grad.conv2d_weight(t(x), (dy.shape[1], x.shape[1], 6, 6), t(dy),
                                      stride=2, padding=2).numpy()
    return {"forward": fwd, "input grad": igrad, "weight grad": wgrad}


def best_of(fn, args, rounds, calls):
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        times.append((time.perf_counter() - start) / calls)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--layers", nargs="*", help="only these layer names")
    parser.add_argument("--isa", choices=sorted(ONEDNN_ISA), default="native",
                        help="crossnet's build, and PyTorch's oneDNN limit")
    args = parser.parse_args(argv)
    if ONEDNN_ISA[args.isa]:
        if "torch" in sys.modules:
            raise SystemExit("--isa must be set before PyTorch is imported")
        os.environ["ONEDNN_MAX_CPU_ISA"] = ONEDNN_ISA[args.isa]
    from crossnet.benchmark import thread_limit
    try:
        import torch
        torch.set_num_threads(args.threads)
        peer = torch_fns()
    except ImportError:
        peer = None
    rng = np.random.RandomState(0)
    print("%-14s %-11s %9s %9s %7s %8s" % ("layer", "op", "crossnet", "PyTorch",
                                            "ratio", "GFLOP/s"))
    total = {"crossnet": 0.0, "torch": 0.0}
    with thread_limit(args.threads):
        for name, C, F, H in layer_shapes(args.size):
            if args.layers and name not in args.layers:
                continue
            B = args.batch
            x = rng.randn(B, C, H, H).astype("float32")
            w = (0.05 * rng.randn(F, C, 6, 6)).astype("float32")
            dy = rng.randn(B, F, H // 2, H // 2).astype("float32")
            ins = {"forward": (x, w), "input grad": (w, dy), "weight grad": (x, dy)}
            flops = 2.0 * B * F * C * 36 * (H // 2) ** 2
            ours = crossnet_fns(B, C, F, H, args.isa)
            for op, fn in ours.items():
                got = fn(*ins[op])
                calls = max(1, int(2e9 / flops))
                t_ours = best_of(fn, ins[op], args.rounds, calls)
                t_peer, ratio = float("nan"), float("nan")
                if peer is not None:
                    ref = peer[op](*ins[op])
                    err = np.abs(got - ref).max() / (np.abs(ref).max() + 1e-30)
                    if not err < 1e-4:
                        raise SystemExit("%s %s: crossnet and PyTorch differ by "
                                         "%.1e (relative to max)" % (name, op, err))
                    t_peer = best_of(peer[op], ins[op], args.rounds, calls)
                    ratio = t_peer / t_ours
                    total["torch"] += t_peer
                total["crossnet"] += t_ours
                print("%-14s %-11s %8.2fms %8.2fms %7.2f %8.1f" % (
                    name, op, 1e3 * t_ours, 1e3 * t_peer, ratio,
                    flops / t_ours / 1e9))
    print("all layers: crossnet %.1f ms, PyTorch %.1f ms (%.2fx)" % (
        1e3 * total["crossnet"], 1e3 * total["torch"],
        total["torch"] / max(total["crossnet"], 1e-12)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
