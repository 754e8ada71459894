"""This CPU's peak single-precision FLOP/s, measured rather than guessed.

/proc/cpuinfo's "cpu MHz" is the nominal or current clock (2.6 GHz on the
development machine, which runs at 4.3 GHz under load), and the number of
SIMD FMA units per core is not listed anywhere (AMD Zen 4 executes AVX-512
on 256-bit units, Zen 5 on 512-bit ones). So two tiny C loops, compiled
with the machine's C compiler (``-O2 -march=native``), measure both:

* the clock: a chain of dependent integer adds, one cycle each on x86;
* FMA throughput: 12 independent accumulators of the widest SIMD vector
  (16 floats with AVX-512, 8 with AVX, 4 otherwise), no memory traffic.

``peak = threads x clock x (FMAs per cycle x lanes x 2)``, where FMAs per
cycle is the measured throughput divided by the clock, rounded to the
nearest whole number of units. The loops run on every thread at once, as
the timed network does. The shared library is built once per compiler,
flags and source into the crossnet compile directory.
"""
import ctypes
import hashlib
import os
import subprocess
import tempfile
import threading

__all__ = ["measure_peak"]

_SOURCE = r"""
#include <time.h>
static double cn_now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
#if defined(__AVX512F__)
#define CN_LANES 16
#elif defined(__AVX__)
#define CN_LANES 8
#else
#define CN_LANES 4
#endif
typedef float cn_vec __attribute__((vector_size(4 * CN_LANES)));
int cn_lanes(void) { return CN_LANES; }

/* cycles per second of a chain of dependent adds (0 if not x86) */
double cn_clock_hz(long n) {
#if defined(__x86_64__) || defined(__i386__)
    long x = 0;
    double t0 = cn_now();
    for (long i = 0; i < n; ++i)
        __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                         "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                         : "+r"(x));
    return 8.0 * n / (cn_now() - t0);
#else
    (void)n; return 0.0;
#endif
}

/* FMAs (vector instructions) per second on this thread */
double cn_fma_per_s(long n, float* sink) {
    cn_vec a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, b, c;
    for (int i = 0; i < CN_LANES; ++i) {
        a0[i] = a1[i] = a2[i] = a3[i] = a4[i] = a5[i] = 1e-3f * i;
        a6[i] = a7[i] = a8[i] = a9[i] = a10[i] = a11[i] = 2e-3f * i;
        b[i] = 0.999f; c[i] = 1e-4f;
    }
    double t0 = cn_now();
    for (long i = 0; i < n; ++i) {
        a0 = a0 * b + c; a1 = a1 * b + c; a2 = a2 * b + c; a3 = a3 * b + c;
        a4 = a4 * b + c; a5 = a5 * b + c; a6 = a6 * b + c; a7 = a7 * b + c;
        a8 = a8 * b + c; a9 = a9 * b + c; a10 = a10 * b + c; a11 = a11 * b + c;
    }
    double dt = cn_now() - t0;
    cn_vec s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    *sink = s[0];
    return 12.0 * n / dt;
}
"""


def _library():
    """Build (once) and load the measuring loops."""
    from .backend import aesara
    cc = aesara.config.cxx or "g++"
    flags = ["-O2", "-march=native", "-ffp-contract=fast", "-shared", "-fPIC",
             "-x", "c"]
    key = hashlib.sha1(("\0".join([cc] + flags) + _SOURCE).encode()).hexdigest()[:16]
    folder = os.path.join(aesara.config.compiledir, "crossnet_cpu_peak")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "peak_%s.so" % key)
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
        os.close(fd)
        try:
            proc = subprocess.run([cc] + flags + ["-", "-o", tmp], input=_SOURCE,
                                  text=True, capture_output=True)
            if proc.returncode != 0:
                raise RuntimeError("compiling the peak-FLOP/s loops with %s "
                                   "failed:\n%s" % (cc, proc.stderr))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    lib = ctypes.CDLL(path)
    lib.cn_clock_hz.restype = ctypes.c_double
    lib.cn_clock_hz.argtypes = [ctypes.c_long]
    lib.cn_fma_per_s.restype = ctypes.c_double
    lib.cn_fma_per_s.argtypes = [ctypes.c_long, ctypes.POINTER(ctypes.c_float)]
    lib.cn_lanes.restype = ctypes.c_int
    return lib


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

    Each loop runs ``repeats`` times for about ``seconds`` in all, on all
    threads at once; each thread's best repeat counts (a thread that shared
    its core for a moment with another process is not the peak).
    Returns a dict: ``gflops`` (the formula above), ``fma_loop_gflops``
    (what the FMA loops themselves reached), ``ghz``, ``fma_per_cycle``,
    ``lanes``, ``threads`` and ``how`` (one sentence)."""
    threads = threads or os.cpu_count() or 1
    lib = _library()
    lanes = lib.cn_lanes()
    sink = ctypes.c_float()
    lib.cn_clock_hz(1000000)                       # wake the clock up
    n_clock = max(1, int(seconds / repeats * 4e9 / 8))
    n_fma = max(1, int(seconds / repeats * 2e9 / 12))
    hz, fma = [0.0] * threads, [0.0] * threads
    for _ in range(repeats):
        hz = list(map(max, hz, _on_threads(lambda: lib.cn_clock_hz(n_clock), threads)))
        fma = list(map(max, fma, _on_threads(
            lambda: lib.cn_fma_per_s(n_fma, ctypes.byref(sink)), threads)))
    loop_gflops = sum(fma) * lanes * 2 / 1e9
    clock = min(hz)
    if clock > 0:
        per_cycle = max(1, round(min(fma) / clock))
        gflops = threads * clock * per_cycle * lanes * 2 / 1e9
        how = ("%d thread(s) x %.2f GHz (measured: dependent-add chain) x %d "
               "FMA/cycle (measured) x %d float lanes x 2" % (
                   threads, clock / 1e9, per_cycle, lanes))
    else:       # not x86: the FMA loop is the estimate
        per_cycle, gflops = None, loop_gflops
        how = "%d thread(s), measured FMA loop with %d float lanes" % (threads, lanes)
    return {"gflops": gflops, "fma_loop_gflops": loop_gflops, "ghz": clock / 1e9,
            "fma_per_cycle": per_cycle, "lanes": lanes, "threads": threads,
            "how": how}
