"""The paper's CPU timing claim: the posterior path at 90 fps (batch 1).

Times, in one process, with the same weights, the same input batch and the
same thread count, alternating between implementations round by round:

* crossnet: aesara, batch norm folded, direct 6x6/stride-2 conv C Op;
* crossnet-corrmm: the same with aesara's own CorrMM convolution;
* numpy: the same network in plain numpy (im2col + matmul);
* torch: the same network in PyTorch (CPU), if installed (`pip install
  -e .[bench]`; here `pip install torch==2.13.0`), then `pip install
  "setuptools<74"`: torch 2.13 pulls setuptools 77+, whose distutils lacks
  ``msvccompiler``, and numpy 1.26's ``numpy.distutils`` (which aesara
  imports when it compiles a new BLAS Op) then fails to import; pip warns
  about torch's requirement, and torch runs as before;
* onnxruntime-1t / -Nt: the same network exported to ONNX (built from the
  same folded steps), ONNX Runtime on 1 and N threads, spinning off;
* openvino: that ONNX model in OpenVINO, LATENCY hint, f32 precision.

Every peer is built from ``FoldedPosterior.steps`` (:func:`crossnet.nn.fold
.fold_chain`), never written out by hand.

All outputs are checked against crossnet's unfolded training graph (in units
of 50 mm, to 1e-4) before timing. Reports fps and ratios crossnet/peer at
batch 1 and 64, and the fraction of this CPU's peak FLOP/s (the
FMA loop's own measured FLOP/s, :mod:`crossnet.cpu_peak`). With
``--train-step`` it also times one update of every training stage in
crossnet and in its PyTorch twin (``torch_twin.py``, converted from the
same layer graph), with the update's FLOPs and % of peak.

    python paper_experiments/timing.py --quick
    python paper_experiments/timing.py --weights ../shared/reference/crossingnet_pretrained/ICVL
"""
import argparse
import os
import time

import numpy as np

import common  # noqa: F401  (puts the checkout on sys.path)
from common import add_common_arguments, markdown_table, reference_dir, write_json, write_text

PAPER_FPS = 90.0


def torch_posterior(fast, threads):
    """The folded posterior path as a PyTorch function (or None)."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    from crossnet.conventions import UNIT_MM
    from crossnet.networks.config import POSE_CODE_DIM
    torch.set_num_threads(threads)

    def tensors(steps):        # step.W is a correlation kernel, as torch's
        return [(s, torch.from_numpy(np.ascontiguousarray(s.W)),
                 torch.from_numpy(np.ascontiguousarray(s.b))) for s in steps]
    head, decoder = tensors(fast.steps), tensors(fast.decoder_steps)
    J = fast.num_joints

    def apply(h, step, W, b):
        if step.kind == "conv":
            h = F.conv2d(h, W, b, stride=tuple(step.stride),
                         padding=tuple(step.pad))
        else:
            h = h.reshape(h.shape[0], -1) @ W + b
        return h if step.leak == 1.0 else F.leaky_relu(h, step.leak)

    def forward(x_np):
        with torch.inference_mode():
            h = torch.from_numpy(x_np)
            for step, W, b in head:
                h = apply(h, step, W, b)
            hid = h[:, :POSE_CODE_DIM]
            for step, W, b in decoder:
                hid = apply(hid, step, W, b)
            rel = hid.reshape(-1, J, 3)
            return ((rel + h[:, None, POSE_CODE_DIM:]) * UNIT_MM).numpy()
    return forward


def onnx_posterior(fast):
    """The folded posterior path as ONNX model bytes (or None without the
    ``onnx`` package), built from the same steps as crossnet's path."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    from crossnet.conventions import UNIT_MM
    from crossnet.networks.config import POSE_CODE_DIM
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def apply(h, step, k):
        W, b = const("W%s" % k, step.W), const("b%s" % k, step.b)
        if step.kind == "conv":
            pads = list(step.pad) * 2
            nodes.append(helper.make_node("Conv", [h, W, b], ["c%s" % k],
                                          strides=list(step.stride), pads=pads))
        else:
            nodes.append(helper.make_node("Flatten", [h], ["f%s" % k], axis=1))
            nodes.append(helper.make_node("Gemm", ["f%s" % k, W, b], ["c%s" % k]))
        if step.leak == 1.0:
            return "c%s" % k
        nodes.append(helper.make_node("LeakyRelu", ["c%s" % k], ["a%s" % k],
                                      alpha=float(step.leak)))
        return "a%s" % k

    h = "depth"
    for i, step in enumerate(fast.steps):
        h = apply(h, step, i)
    z = h
    axes = const("axis1", np.array([1], np.int64))
    nodes.append(helper.make_node("Slice", [z, const("s0", np.array([0], np.int64)),
                                            const("s1", np.array([POSE_CODE_DIM], np.int64)),
                                            axes], ["code"]))
    nodes.append(helper.make_node("Slice", [z, "s1", const("s2", np.array(
        [1 << 30], np.int64)), axes], ["root"]))
    h = "code"
    for i, step in enumerate(fast.decoder_steps):
        h = apply(h, step, "d%d" % i)
    nodes += [
        helper.make_node("Reshape", [h, const("shape", np.array(
            [-1, fast.num_joints, 3], np.int64))], ["rel"]),
        helper.make_node("Unsqueeze", ["root", "axis1"], ["root3"]),
        helper.make_node("Add", ["rel", "root3"], ["sum"]),
        helper.make_node("Mul", ["sum", const("unit", np.float32(UNIT_MM))],
                         ["joints"]),
    ]
    S = fast.size
    graph = helper.make_graph(
        nodes, "crossnet_posterior_path",
        [helper.make_tensor_value_info("depth", TensorProto.FLOAT, ["B", 1, S, S])],
        [helper.make_tensor_value_info("joints", TensorProto.FLOAT,
                                       ["B", fast.num_joints, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnxruntime_posterior(model_bytes, threads):
    """ONNX Runtime on ``threads`` threads, spinning off (or None)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model_bytes, opts,
                                providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {"depth": x})[0]


def openvino_posterior(model_bytes, threads, folder):
    """OpenVINO on the CPU with the LATENCY hint (or None)."""
    try:
        import openvino as ov
    except ImportError:
        return None
    path = os.path.join(folder, "posterior_path.onnx")
    os.makedirs(folder, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(model_bytes)
    compiled = ov.Core().compile_model(path, "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads,
        # f32 like every other peer (on AMX CPUs the default would be bf16)
        "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()

    def forward(x):
        request.infer({0: x})
        return request.get_output_tensor(0).data.copy()
    return forward


def alternate(impls, x, rounds, calls, pause=0.2):
    """{name: (median, best)} seconds per call over ``rounds`` rounds of
    ``calls`` calls, implementations timed round-robin.

    Both are reported because some peers are bimodal from round to round
    (PyTorch 2.13 here: 0.54 or 1.05 ms per batch-1 call, same process,
    same input); the best round is each implementation's best case.

    ``pause`` seconds between implementations let the previous one's worker
    threads go idle (OpenMP and BLAS threads spin for a while after work),
    so no implementation is timed while another's threads hold the cores.
    """
    per = {name: [] for name in impls}
    for fn in impls.values():          # warm-up
        for _ in range(5):
            fn(x)
    for _ in range(rounds):
        for name, fn in impls.items():
            time.sleep(pause)
            start = time.perf_counter()
            for _ in range(calls):
                fn(x)
            per[name].append((time.perf_counter() - start) / calls)
    return {name: (float(np.median(v)), float(np.min(v))) for name, v in per.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "results/timing")
    parser.add_argument("--weights", help="checkpoint folder (default: the "
                        "authors' ICVL weights if found, else random)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--train-step", action="store_true",
                        help="also time one update of every training stage "
                             "(128x128 and the demo's 64x64 batch 50) against "
                             "its PyTorch twin")
    parser.add_argument("--train-batch", type=int, default=None,
                        help="batch of the training step (default 64; "
                             "--quick: 16)")
    args = parser.parse_args(argv)

    from crossnet.benchmark import cpu_info, thread_limit
    from crossnet.cpu_peak import measure_peak
    from crossnet.checkpoint import load_checkpoint, resolve_weights
    from crossnet.inference import FoldedPosterior, posterior_path_macs
    from crossnet.networks import CrossingNet

    weights = args.weights
    ref = reference_dir(args.reference)
    if weights is None and ref:
        weights = os.path.join(ref, "crossingnet_pretrained", "ICVL")
    net = CrossingNet("icvl", seed=0)
    if weights:
        load_checkpoint(net, resolve_weights(weights))
    rounds, calls = (5, 20) if args.quick else (15, 50)
    results = {"weights": weights or "random", "threads": args.threads,
               "paper_fps": PAPER_FPS, "batches": {}}
    cpu = cpu_info()
    peak = measure_peak(args.threads)
    results.update(cpu=cpu.get("model_name"), peak_gflops_estimate=peak["gflops"],
                   peak_how=peak["how"])
    macs = posterior_path_macs(net)
    with thread_limit(args.threads):
        fast = FoldedPosterior(net)
        corrmm = FoldedPosterior(net, conv="corrmm")
        impls = {"crossnet": fast.function, "crossnet-corrmm": corrmm.function,
                 "numpy": fast.numpy_forward}
        torch_fn = torch_posterior(fast, args.threads)
        if torch_fn is not None:
            impls["torch"] = torch_fn
        model = onnx_posterior(fast)
        if model is not None:
            for t in sorted({1, args.threads}):
                fn = onnxruntime_posterior(model, t)
                if fn is not None:
                    impls["onnxruntime-%dt" % t] = fn
            fn = openvino_posterior(model, args.threads, args.out)
            if fn is not None:
                impls["openvino"] = fn
        for batch in (1, 64):
            x = np.random.RandomState(batch).uniform(
                -1, 1, (batch, 1, 128, 128)).astype("float32")
            reference = net.estimate(x)
            diffs = {name: float(np.abs(fn(x) - reference).max() / 50.0)
                     for name, fn in impls.items()}
            bad = {k: v for k, v in diffs.items() if not v < 1e-4}
            if bad:
                raise SystemExit("outputs disagree with the training graph "
                                 "(units of 50 mm): %s" % bad)
            secs = alternate(impls, x, rounds, max(1, calls // batch * 4)
                             if batch > 1 else calls)
            row = {}
            for name, (med, best) in secs.items():
                fps = batch / med
                row[name] = {"fps": fps, "ms_per_frame": 1e3 * med / batch,
                             "best_fps": batch / best,
                             "gflops": 2 * macs * fps / 1e9,
                             "max_diff_50mm": diffs[name]}
            for name in row:
                row[name]["crossnet_over_this"] = row["crossnet"]["fps"] / row[name]["fps"]
                row[name]["best_crossnet_over_this"] = (row["crossnet"]["best_fps"]
                                                        / row[name]["best_fps"])
            results["batches"][str(batch)] = row
    if args.train_step:
        rounds = 3 if args.quick else 7
        batch = args.train_batch or (16 if args.quick else 64)
        results["stages"] = {}
        for size, b in ((net.config.image_size, batch), (64, 50)):
            results["stages"]["%dx%d batch %d" % (size, size, b)] = stage_timing(
                size, b, args.threads, rounds, peak["gflops"])
    write_json(os.path.join(args.out, "timing.json"), results)
    results["figure"] = plot_fps(results, os.path.join(args.out, "timing.png"))
    report = render(results)
    write_text(os.path.join(args.out, "timing.md"), report)
    print(report)
    return 0


def synthetic_batches(size, batch):
    """Two batches of ``batch`` synthetic frames (labelled, real) as dicts
    of stacked 'depth', 'pose', 'origin' arrays, the same in every call."""
    from crossnet.data.synthetic import SyntheticHands
    hands = SyntheticHands(2 * batch, seed=5, size=size)
    frames = [hands.sample(i) for i in range(2 * batch)]
    stack = {k: np.stack([f[k] for f in frames]) for k in ("depth", "pose", "origin")}
    return ({k: v[:batch] for k, v in stack.items()},
            {k: v[batch:] for k, v in stack.items()})


def update_flops(step, inputs):
    """FLOPs (2 per multiply-add) of one update of a PyTorch twin step:
    convolutions and matrix products, forward and backward, as counted by
    ``torch.utils.flop_counter`` (elementwise work not counted)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as counter:
        step(inputs)
    return int(counter.get_total_flops())


STAGE_NAMES = ("vae", "gan", "align", "cross", "supervised")


def stage_timing(size, batch, threads, rounds=3, peak_gflops=None,
                 stages=STAGE_NAMES, per_round=2):
    """Per training stage at ``size`` x ``size``, ``batch`` frames (fresh
    network per stage): compile seconds and seconds per update of crossnet
    and, if installed, of its PyTorch twin (``torch_twin.twin_step``, same
    weights, inputs and loss terms; the first update's losses must agree),
    alternating round by round (each round ``per_round`` updates back to
    back, as in training; the median over rounds, and each round's ratio);
    the update's FLOPs (counted on the twin) and both implementations'
    share of ``peak_gflops``."""
    from crossnet.benchmark import thread_limit
    from crossnet.networks import CrossingNet
    from crossnet.training import stages as st
    try:
        import torch
        from torch_twin import twin_step
    except ImportError:
        twin_step = None
    lab, real = synthetic_batches(size, batch)
    rows = {}
    with thread_limit(threads):
        if twin_step is not None:
            torch.set_num_threads(threads)
        for name in stages:
            net = CrossingNet("icvl", size, seed=0)
            twin = twin_step(net, name) if twin_step else None   # copies weights
            t0 = time.perf_counter()
            stage = getattr(st, name + "_stage")(net)
            row = {"batch": batch, "compile_s": time.perf_counter() - t0}
            data = {"labelled": lab, "real": real} if name == "cross" else lab
            inputs = stage.make_inputs(data, np.random.RandomState(0))
            steps = {"crossnet": lambda: stage.step(inputs)}
            first = stage.step(inputs)
            if twin is not None:
                first_t = twin(inputs)
                row["first_step_losses"] = {"crossnet": first, "torch": first_t}
                # the first compiled step's terms (a fused GAN's gan_g: D
                # after its update, in both)
                for k in stage.steps[0][2]:
                    if not np.isclose(first[k], first_t[k], rtol=1e-3, atol=1e-5):
                        raise SystemExit("stage %s: the PyTorch twin disagrees "
                                         "on %s: crossnet %r, torch %r"
                                         % (name, k, first[k], first_t[k]))
                row["flops"] = update_flops(twin, inputs)
                steps["torch"] = lambda: twin(inputs)
            times = {k: [] for k in steps}
            for _ in range(rounds):
                for k, fn in steps.items():
                    time.sleep(0.1)
                    start = time.perf_counter()
                    for _ in range(per_round):
                        fn()
                    times[k].append((time.perf_counter() - start) / per_round)
            for k, v in times.items():
                sec = float(np.median(v))
                row["%s_s" % k] = sec
                row["%s_frames_per_s" % k] = batch / sec
                if "flops" in row and peak_gflops:
                    row["%s_peak_percent" % k] = (100 * row["flops"] / sec / 1e9
                                                  / peak_gflops)
            if "torch_s" in row:
                row["crossnet_over_torch"] = row["torch_s"] / row["crossnet_s"]
                row["crossnet_over_torch_rounds"] = [
                    t / c for t, c in zip(times["torch"], times["crossnet"])]
            row["rounds"], row["updates_per_round"] = rounds, per_round
            rows[name] = row
    return rows


def plot_fps(r, path):
    """Bar chart of frames/s per implementation and batch, paper's 90 fps."""
    from crossnet.plotting import atomic_savefig, pyplot
    plt = pyplot()
    batches = list(r["batches"])
    names = list(r["batches"][batches[0]])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    width = 0.8 / len(batches)
    for i, batch in enumerate(batches):
        ax.bar(np.arange(len(names)) + (i - (len(batches) - 1) / 2) * width,
               [r["batches"][batch][n]["fps"] for n in names], width,
               label="batch %s" % batch)
    ax.axhline(r["paper_fps"], color="k", ls="--", lw=1, label="paper (90 fps)")
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylabel("frames per second (posterior path, CPU)")
    ax.set_title("%s, %d thread(s)" % (r["cpu"], r["threads"]), fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return path


def render(r):
    lines = ["# Posterior-path timing (paper: %.0f fps, batch 1, CPU)" % r["paper_fps"],
             "", "CPU: %s, %d thread(s); weights: %s" % (r["cpu"], r["threads"],
                                                         r["weights"]),
             "Peak: %.0f GFLOP/s (%s). It is float32's peak on the vector "
             "units. GFLOP/s and %% of peak count a direct convolution's "
             "FLOPs: crossnet's Winograd layers (36 instead of 144 products "
             "per 4x4 tile) and, where the CPU has AMX, its tile unit (bf16x3 "
             "products) can exceed the peak." % (
                 r["peak_gflops_estimate"], r["peak_how"]), ""]
    for batch, row in r["batches"].items():
        lines.append("## batch %s" % batch)
        lines.append("")
        lines.append(markdown_table(
            ["implementation", "frames/s (median)", "ms/frame", "GFLOP/s",
             "% of peak", "crossnet / this", "best round frames/s",
             "crossnet / this (best)", "max diff (50 mm units)"],
            [[name, "%.1f" % v["fps"], "%.3f" % v["ms_per_frame"],
              "%.1f" % v["gflops"],
              "%.1f" % (100 * v["gflops"] / r["peak_gflops_estimate"]),
              "%.2f" % v["crossnet_over_this"], "%.1f" % v["best_fps"],
              "%.2f" % v["best_crossnet_over_this"], "%.1e" % v["max_diff_50mm"]]
             for name, v in row.items()]))
        lines.append("")
    if "figure" in r:
        lines.append("Figure: %s" % r["figure"])
        lines.append("")
    for key, rows in r.get("stages", {}).items():
        lines += ["", "## One update of each training stage, %s" % key, "",
                  "Alternating rounds of back-to-back updates, median; the "
                  "last column gives the lowest and highest per-round "
                  "ratio; FLOPs of convolutions and "
                  "matrix products, forward and backward, counted on the "
                  "PyTorch twin; % of the measured peak above.", ""]
        table = []
        for name, row in rows.items():
            def get(k, fmt):
                return fmt % row[k] if k in row else "-"
            table.append([name, get("crossnet_s", "%.4f"), get("torch_s", "%.4f"),
                          get("crossnet_over_torch", "%.2f"),
                          get("crossnet_frames_per_s", "%.1f"),
                          get("torch_frames_per_s", "%.1f"),
                          "%.2f" % (row["flops"] / 1e9) if "flops" in row else "-",
                          get("crossnet_peak_percent", "%.1f"),
                          get("torch_peak_percent", "%.1f"),
                          get("compile_s", "%.1f"),
                          "%.2f-%.2f" % (min(row["crossnet_over_torch_rounds"]),
                                         max(row["crossnet_over_torch_rounds"]))
                          if "crossnet_over_torch_rounds" in row else "-"])
        lines.append(markdown_table(
            ["stage", "crossnet s/update", "PyTorch s/update",
             "crossnet / PyTorch speed", "crossnet frames/s", "PyTorch frames/s",
             "GFLOP/update", "crossnet % of peak", "PyTorch % of peak",
             "crossnet compile s", "ratio per round"], table))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
