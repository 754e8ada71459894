"""``crossnet benchmark``: frames per second of the posterior path on CPU."""
from ._common import non_negative_int, positive_int
import json

from ..conventions import DATASETS


def add_arguments(parser):
    parser.add_argument("--weights", help="run folder or checkpoint folder "
                        "(default: random weights of the same architecture)")
    parser.add_argument("--dataset", default="icvl", choices=DATASETS)
    parser.add_argument("--batch-size", type=positive_int, default=1,
                        help="frames per call (default 1, the paper's)")
    parser.add_argument("--iterations", type=positive_int, default=200)
    parser.add_argument("--warmup", type=non_negative_int, default=20)
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="BLAS/OpenMP threads (default: all cores)")
    parser.add_argument("--linker", default="cvm_nogc",
                        choices=["cvm_nogc", "cvm", "c", "vm", "py"],
                        help="aesara linker (default cvm_nogc)")
    parser.add_argument("--conv", default="direct", choices=["direct", "corrmm"],
                        help="convolution: crossnet's direct C Op (default) "
                             "or aesara's CorrMM (im2col + gemm)")
    parser.add_argument("--no-peak", action="store_true",
                        help="skip measuring this CPU's peak FLOP/s (0.6 s)")
    parser.add_argument("--json", action="store_true")


def run(args):
    from ..benchmark import run_benchmark
    r = run_benchmark(args.weights, args.dataset, args.batch_size,
                      args.iterations, args.warmup, args.threads, args.linker,
                      conv=args.conv, peak=not args.no_peak)
    if args.json:
        print(json.dumps(r))
        return 0
    print("posterior path (D conv1-2 + posterior head + VAE decoder, BN folded)")
    print("weights          %s" % r["weights"])
    print("batch size       %d" % r["batch_size"])
    print("median           %.3f ms/frame  (p10 %.3f, p90 %.3f)"
          % (r["ms_per_frame_median"], r["ms_per_frame_p10"],
             r["ms_per_frame_p90"]))
    print("frames/s         %.1f  (paper: 90)" % r["fps"])
    print("GFLOP/s          %.1f" % r["gflops"])
    if "peak_gflops" in r:
        print("of peak          %.1f %% of %.0f GFLOP/s (%s)"
              % (r["percent_of_peak"], r["peak_gflops"], r["peak_how"]))
    print("compile          %.1f s" % r["compile_s"])
    print("conv / linker    %s / %s" % (r["conv"], r["linker"]))
    print("BLAS             %s" % r["blas"])
    print("CPU              %s" % r["cpu"])
    print("threads          %s" % r["threads"])
    print("multiply-adds    %.1f M per frame" % (r["macs_per_frame"] / 1e6))
    return 0
