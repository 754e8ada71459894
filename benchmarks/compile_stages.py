"""First-compile seconds of every training stage, from an empty compile cache.

Builds one CrossingNet and compiles the stages in the demo's order (VAE,
GAN, 3a, 3b, supervised) in a child process whose ``CROSSNET_COMPILEDIR`` is
a new empty folder, once per ``--jobs`` value (the number of parallel g++
runs, ``CROSSNET_COMPILE_JOBS``; 1 = aesara's serial compile), and prints
seconds per stage and in total. Run it on an idle machine.

    python benchmarks/compile_stages.py [--size 64] [--jobs 1 2]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
STAGES = ("vae", "gan", "align", "cross", "supervised")


def _child(size):
    from crossnet.networks import CrossingNet
    from crossnet.training import stages as st
    net = CrossingNet("icvl", size, seed=0)
    seconds = {}
    for name in STAGES:
        start = time.perf_counter()
        getattr(st, name + "_stage")(net)
        seconds[name] = time.perf_counter() - start
    print(json.dumps(seconds))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=64, help="crop size (pixels)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2],
                        help="parallel g++ runs to compare")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.size)
    print("stage compile seconds, %dx%d, empty compile cache" % (args.size, args.size))
    print("%-6s %s %8s" % ("jobs", " ".join("%8s" % s for s in STAGES), "total"))
    for jobs in args.jobs:
        with tempfile.TemporaryDirectory(prefix="crossnet-compile-") as folder:
            env = dict(os.environ, CROSSNET_COMPILEDIR=folder,
                       CROSSNET_COMPILE_JOBS=str(jobs))
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                                  "--size", str(args.size)], env=env, check=True,
                                 capture_output=True, text=True).stdout
        seconds = json.loads(out.strip().splitlines()[-1])
        print("%-6d %s %8.1f" % (jobs, " ".join("%8.1f" % seconds[s] for s in STAGES),
                                 sum(seconds.values())))


if __name__ == "__main__":
    main()
