"""This CPU's peak single-precision FLOP/s, measured by an FMA loop.

No clock model: /proc/cpuinfo's "cpu MHz" is the nominal clock, turbo and
virtualisation change the real one, and the number of SIMD FMA units per core
is listed nowhere (AMD Zen 4 runs AVX-512 on 256-bit units, Zen 5 and Intel
Xeons on 512-bit ones). So the peak *is* what a loop of independent FMAs on
the widest vector the compiler targets (``csrc/cpu_peak.c``) reaches, on
every thread at once, as the timed network runs. Each thread's best repeat
counts: a thread that shared its core with another process for a moment is
not the peak. The shared library is built once per compiler, flags and
source into the crossnet compile directory.
"""
import ctypes
import os
import threading

from .csrc import build_shared_library

__all__ = ["measure_peak", "fma_loop"]

ITERATIONS_PER_SECOND_GUESS = 2e8     # only sizes the loop; never a result


def _library():
    """Build (once) and load the FMA loop."""
    lib = build_shared_library("cpu_peak.c", ["-O2", "-march=native",
                                              "-ffp-contract=fast"])
    lib.cn_fma_loop.restype = ctypes.c_double
    lib.cn_fma_loop.argtypes = [ctypes.c_long, ctypes.c_float, ctypes.c_float,
                                ctypes.POINTER(ctypes.c_float)]
    lib.cn_lanes.restype = ctypes.c_int
    return lib


def fma_loop(n, b=0.999, c=1e-4):
    """Run the loop once: (seconds, lane 1 of its 12 accumulators)."""
    out = (ctypes.c_float * 12)()
    seconds = _library().cn_fma_loop(int(n), b, c, out)
    return seconds, list(out)


def _on_threads(fn, threads):
    """[fn() on each of ``threads`` threads, all at once] (ctypes releases
    the GIL during the call)."""
    results = [None] * threads
    start = threading.Barrier(threads)

    def run(i):
        start.wait()
        results[i] = fn()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def measure_peak(threads=None, seconds=0.5, repeats=5):
    """Measured peak of this CPU on ``threads`` threads (default: all).

    Returns a dict: ``gflops`` (sum over threads of each thread's best
    FMA-loop GFLOP/s), ``per_thread_gflops``, ``lanes`` (floats per vector),
    ``threads`` and ``how`` (one sentence)."""
    threads = threads or os.cpu_count() or 1
    lib = _library()
    lanes = lib.cn_lanes()
    n = max(1, int(seconds / repeats * ITERATIONS_PER_SECOND_GUESS))
    flops = 12.0 * n * lanes * 2
    fma_loop(n)                                  # wake the core up
    best = [0.0] * threads
    for _ in range(repeats):
        secs = _on_threads(lambda: fma_loop(n)[0], threads)
        best = [max(g, flops / s / 1e9) for g, s in zip(best, secs)]
    return {"gflops": sum(best), "per_thread_gflops": best, "lanes": lanes,
            "threads": threads,
            "how": "measured: %d thread(s) each running 12 independent FMA "
                   "chains of %d float lanes (best of %d)" % (threads, lanes,
                                                             repeats)}
