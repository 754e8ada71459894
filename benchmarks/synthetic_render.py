"""Frames per second of the built-in synthetic hand renderer.

Times SyntheticHands.sample (pose sampling, rendering, noise, normalisation)
for random poses, single process, and prints frames/s per crop size.

    python benchmarks/synthetic_render.py [--frames 500]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 64])
    args = parser.parse_args(argv)
    from crossnet.data.synthetic import SyntheticHands
    for size in args.sizes:
        hands = SyntheticHands(args.frames, seed=0, size=size)
        hands.sample(0)                      # imports, first allocations
        start = time.perf_counter()
        for i in range(args.frames):
            hands.sample(i)
        dt = time.perf_counter() - start
        print("%dx%d: %.0f frames/s (%d frames, one process)"
              % (size, size, args.frames / dt, args.frames))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
