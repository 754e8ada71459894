"""Timing of the posterior path (the network the paper times at 90 fps)."""
import os
import platform
import time

import numpy as np

__all__ = ["time_calls", "thread_limit", "cpu_info", "run_benchmark"]


def time_calls(fn, x, iterations=200, warmup=20):
    """Per-call seconds of ``fn(x)`` (after ``warmup`` calls), timed with
    time.perf_counter."""
    for _ in range(warmup):
        fn(x)
    times = np.empty(iterations)
    for i in range(iterations):
        start = time.perf_counter()
        fn(x)
        times[i] = time.perf_counter() - start
    return times


def load_openmp_runtime():
    """Load the OpenMP runtime that aesara's C code links (libgomp for GCC).

    threadpoolctl only limits libraries already loaded; crossnet's OpenMP
    Ops load libgomp when their compiled module is imported, which may be
    after a limit was set. Loading it first makes the limit stick."""
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library("gomp")
    if name:
        try:
            ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            pass


class thread_limit(object):
    """Context manager limiting OpenMP threads to ``threads``, and BLAS
    threads to at most that (threadpoolctl).

    BLAS is never raised above its current count: crossnet runs it on one
    thread (``backend.limit_blas_threads``), because OpenBLAS's pool spins
    after each small product and takes the cores from the OpenMP Ops.
    Raising it here had made stage updates timed inside this context up to
    twice as slow, with 40-200 ms of system time in some updates."""

    def __init__(self, threads):
        self.threads = threads
        self._ctl = None

    def __enter__(self):
        if self.threads:
            from threadpoolctl import threadpool_info, threadpool_limits
            load_openmp_runtime()
            blas = [i["num_threads"] for i in threadpool_info()
                    if i["user_api"] == "blas"]
            self._ctl = threadpool_limits(limits={
                "openmp": self.threads, "blas": min([self.threads] + blas)})
        return self

    def __exit__(self, *exc):
        if self._ctl is not None:
            self._ctl.restore_original_limits()


def blas_info():
    """Which BLAS libraries numpy/aesara have loaded (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:      # pragma: no cover - a listed dependency
        return []
    return [{"library": i.get("internal_api"), "version": i.get("version"),
             "threads": i.get("num_threads"), "path": i.get("filepath")}
            for i in threadpool_info()]


def cpu_info():
    """Model name and logical cores of this CPU (Linux; the peak FLOP/s is
    measured by :mod:`crossnet.cpu_peak`, not read from here)."""
    info = {"machine": platform.machine(), "cores": os.cpu_count(),
            "model": platform.processor()}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["model_name"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def run_benchmark(weights=None, dataset="icvl", batch_size=1, iterations=200,
                  warmup=20, threads=None, linker="cvm_nogc", seed=0,
                  conv="direct", peak=True):
    """Compile the folded posterior path and time it; returns a dict (with
    ``peak=True`` also this CPU's measured peak, :mod:`crossnet.cpu_peak`)."""
    from . import backend
    from .checkpoint import load_checkpoint, resolve_weights
    from .inference import FoldedPosterior, posterior_path_macs
    from .networks import CrossingNet
    net = CrossingNet(dataset, seed=seed)
    if weights:
        load_checkpoint(net, resolve_weights(weights))
    else:   # random weights; give batch norm non-trivial running statistics
        rng = np.random.RandomState(seed)
        for p in net.part_params("discriminator") + net.part_params("posterior_head"):
            if p.name.endswith(("mean", "inv_std")):
                p.set_value((rng.uniform(0.5, 1.5, p.get_value().shape)
                             ).astype("float32"))
    size = net.config.image_size
    with thread_limit(threads):
        fast = FoldedPosterior(net, linker=linker, conv=conv)
        x = np.random.RandomState(seed).uniform(
            -1, 1, (batch_size, 1, size, size)).astype("float32")
        times = time_calls(fast.function, x, iterations, warmup)
    per_frame = times / batch_size
    med = float(np.median(per_frame))
    info = backend.describe()
    macs = posterior_path_macs(net)
    out = {
        "fps": 1.0 / med, "ms_per_frame_median": med * 1e3,
        "ms_per_frame_p10": float(np.percentile(per_frame, 10)) * 1e3,
        "ms_per_frame_p90": float(np.percentile(per_frame, 90)) * 1e3,
        "batch_size": batch_size, "iterations": iterations,
        "compile_s": fast.compile_s, "threads": threads or os.cpu_count(),
        "linker": linker, "blas": info["blas_ldflags"],
        "blas_libraries": blas_info(), "weights": weights or "random",
        "macs_per_frame": macs, "conv": conv, "gflops": 2 * macs / med / 1e9,
        "cpu": cpu_info().get("model_name"),
    }
    if peak:
        from .cpu_peak import measure_peak
        p = measure_peak(out["threads"])
        out.update(peak_gflops=p["gflops"], peak_how=p["how"],
                   percent_of_peak=100 * out["gflops"] / p["gflops"])
    return out
