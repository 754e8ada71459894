"""aesara set-up shared by every crossnet module.

Import this module before ``aesara`` (``import crossnet`` does it) so that the
flags below take effect:

* ``floatX = float32`` (all networks and data are float32);
* the compile cache lives in ``$CROSSNET_COMPILEDIR`` or, by default, in
  ``$XDG_CACHE_HOME/crossnet/aesara`` (``~/.cache/crossnet/aesara``);
* BLAS: a system OpenBLAS (Debian ``libopenblas-dev``) is linked when it is
  found; otherwise ``blas__ldflags`` is set empty and aesara uses its NumPy
  C-API gemm. Setting ``CROSSNET_BLAS_LDFLAGS`` (e.g. ``-lmkl_rt`` or empty)
  overrides the detection.

Flags the user already gave in ``AESARA_FLAGS`` win over ours.

It also repairs aesara's CPU convolution (see :func:`patch_corrmm`),
with glibc keeps freed heap memory in the process (see :func:`tune_malloc`),
runs BLAS on one thread between the OpenMP Ops (:func:`limit_blas_threads`),
makes the default mode compile C modules on all cores
(:func:`use_parallel_compile`, with precompiled headers), and lets constant
folding use Python implementations instead of compiling C modules one by
one (:func:`fold_constants_in_python`).
"""
import ctypes.util
import os
import sys
import warnings

__all__ = ["aesara", "blas_ldflags", "patch_corrmm", "tune_malloc",
           "limit_blas_threads", "blas_threads", "use_parallel_compile",
           "fold_constants_in_python", "describe"]


def _cache_dir():
    if os.environ.get("CROSSNET_COMPILEDIR"):
        return os.environ["CROSSNET_COMPILEDIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache")
    return os.path.join(base, "crossnet", "aesara")


def _detect_blas():
    """``-lopenblas`` when the linker can find OpenBLAS, else ``''``."""
    if "CROSSNET_BLAS_LDFLAGS" in os.environ:
        return os.environ["CROSSNET_BLAS_LDFLAGS"]
    if ctypes.util.find_library("openblas"):
        # find_library also sees the runtime .so without the -dev symlink;
        # only link when the linker name libopenblas.so exists.
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                  "/usr/lib", "/usr/local/lib"):
            if os.path.exists(os.path.join(d, "libopenblas.so")):
                return "-lopenblas"
    return ""


def _flag_names(flags):
    """Names set in an ``AESARA_FLAGS`` string (``name=value,...``)."""
    return {kv.split("=", 1)[0].strip() for kv in flags.split(",") if kv}


def _set_flags():
    given = os.environ.get("AESARA_FLAGS", "")
    given_keys = _flag_names(given)
    ours = {
        "floatX": "float32",
        "base_compiledir": _cache_dir(),
        "blas__ldflags": _detect_blas(),
    }
    extra = ",".join("%s=%s" % (k, v) for k, v in ours.items()
                     if k not in given_keys)
    os.environ["AESARA_FLAGS"] = ",".join(x for x in (given, extra) if x)


import logging  # noqa: E402

# aesara warns on every import when it uses its NumPy gemm; describe() and
# `crossnet benchmark` report the BLAS in use instead.
logging.getLogger("aesara.tensor.blas").setLevel(logging.ERROR)

if "aesara" in sys.modules:
    # Too late to set flags through the environment: set what can be set.
    import aesara
    aesara.config.floatX = "float32"
else:
    _set_flags()
    import aesara  # noqa: E402

import aesara.tensor as at  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import aesara.tensor.nnet  # noqa: E402,F401  (at.nnet.conv2d)
from aesara.graph.basic import Apply  # noqa: E402
from aesara.tensor.type import TensorType  # noqa: E402


def blas_ldflags():
    """The BLAS link flags aesara uses ('' = NumPy C-API gemm fallback)."""
    return aesara.config.blas__ldflags


def _corrmm_make_node(self, img, kern):
    # Same as aesara.tensor.nnet.corr.CorrMM.make_node, with the output's
    # static shape built from a list (aesara 2.8/2.9 call ``tuple`` with four
    # positional arguments, which raises TypeError).
    img = at.as_tensor_variable(img)
    kern = at.as_tensor_variable(kern)
    img, kern = self.as_common_dtype(img, kern)
    if img.type.ndim != 4:
        raise TypeError("img must be 4D tensor")
    if self.unshared is True:
        if kern.type.ndim != 6:
            raise TypeError("kern must be 6D tensor")
    elif kern.type.ndim != 4:
        raise TypeError("kern must be 4D tensor")
    out_shape = (
        1 if img.type.shape[0] == 1 else None,
        1 if kern.type.shape[0] == 1 else None,
        None,
        None,
    )
    return Apply(self, [img, kern],
                 [TensorType(img.type.dtype, shape=out_shape)()])


def _op_is_broken(op, *inputs):
    try:
        op.make_node(*inputs)
    except TypeError as exc:
        if "tuple expected at most 1 argument" in str(exc):
            return True
        raise
    return False


def patch_corrmm():
    """Repair ``CorrMM.make_node`` where it is broken; return what was patched.

    In aesara 2.8 and 2.9, ``CorrMM.make_node`` calls ``tuple(a, b, c, d)``
    and raises ``TypeError``. aesara's rewriter swallows it and reports the
    misleading "AbstractConv2d Aesara rewriting failed ... do you have a BLAS
    library", so every CPU ``conv2d`` fails. The gradient ops
    (``CorrMM_gradWeights``, ``CorrMM_gradInputs``) build their shapes from
    lists and are only checked, not changed. Each op is probed first, so the
    patch is applied only where the bug is present (and is a no-op on a fixed
    aesara).
    """
    with warnings.catch_warnings():
        # aesara 2.9 marks aesara.tensor.nnet deprecated but it is the only
        # home of its CPU convolution
        warnings.simplefilter("ignore", DeprecationWarning)
        from aesara.tensor.nnet import corr

    x = at.tensor4(dtype="float32")
    w = at.tensor4(dtype="float32")
    patched = []
    if _op_is_broken(corr.CorrMM(), x, w):
        corr.CorrMM.make_node = _corrmm_make_node
        patched.append("CorrMM")
        # probe again: the patch must repair it
        assert not _op_is_broken(corr.CorrMM(), x, w)
    for op_cls in (corr.CorrMM_gradWeights, corr.CorrMM_gradInputs):
        if _op_is_broken(op_cls(), x, w):  # pragma: no cover - not seen
            raise RuntimeError(
                "aesara %s: %s.make_node is broken and crossnet has no patch "
                "for it; please report your aesara version"
                % (aesara.__version__, op_cls.__name__))
    return patched


PATCHED_OPS = patch_corrmm()

MALLOC_ENV = "CROSSNET_MALLOC"


def tune_malloc():
    """Keep large freed blocks in the process (glibc only); return whether
    it was done.

    aesara frees a training graph's intermediate arrays after their last use
    in every call and allocates them again in the next. glibc serves blocks
    above its mmap threshold (at most 32 MB) with fresh ``mmap`` pages, which
    the kernel zeroes and faults in one page at a time: at batch 64 this was
    about a fifth of a stage-3b update (paper_experiments/README.md). With
    ``M_MMAP_MAX = 0`` every block comes from the heap, and a high
    ``M_TRIM_THRESHOLD`` keeps freed memory for the next call (the peak
    resident memory is unchanged). Applies to the whole process, so to
    peers timed in it too. ``CROSSNET_MALLOC=system`` leaves malloc as it is.
    """
    if os.environ.get(MALLOC_ENV, "tuned") == "system":
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):       # not glibc (e.g. musl)
        return False
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(
        mallopt(M_TRIM_THRESHOLD, ctypes.c_int(2 ** 31 - 1)))


MALLOC_TUNED = tune_malloc()


BLAS_THREADS_ENV = "CROSSNET_BLAS_THREADS"


def _blas_thread_count():
    """The BLAS thread count asked for: ``$CROSSNET_BLAS_THREADS`` (a
    positive integer, or ``system`` for None: leave BLAS alone), else 1."""
    value = os.environ.get(BLAS_THREADS_ENV, "1").strip().lower()
    if value == "system":
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError("%s=%r: give a positive number of threads or "
                         "'system'" % (BLAS_THREADS_ENV, value))
    return count


def limit_blas_threads():
    """Run BLAS (numpy's OpenBLAS, and a system one aesara links) on one
    thread; return the thread count set (None: left alone).

    The matrix products of crossnet's graphs are small (a batch times a
    dense layer) and run between OpenMP Ops. OpenBLAS's own thread pool
    keeps spinning after each product and takes the cores from the OpenMP
    threads of the next convolution: at 64x64, batch 50, on 2 cores, a
    stage-3a update took 132 ms (45 ms of it system time) with OpenBLAS on
    2 threads and 82 ms on 1; stage 3b 325 and 264 ms. Large numpy products
    (the ridge baseline) take all cores inside :func:`blas_threads`.
    ``CROSSNET_BLAS_THREADS=n`` sets another count, ``system`` leaves BLAS
    as it is. A BLAS loaded later reads ``OPENBLAS_NUM_THREADS``.
    """
    count = _blas_thread_count()
    if count is None:
        return None
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(count))
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=count, user_api="blas")
    return count


BLAS_THREADS = limit_blas_threads()


class blas_threads(object):
    """Context manager: BLAS on ``threads`` threads (default: all cores)
    inside, the process setting again after (threadpoolctl)."""

    def __init__(self, threads=None):
        self.threads = threads or os.cpu_count() or 1
        self._ctl = None

    def __enter__(self):
        from threadpoolctl import threadpool_limits
        self._ctl = threadpool_limits(limits=self.threads, user_api="blas")
        return self

    def __exit__(self, *exc):
        self._ctl.restore_original_limits()


def use_parallel_compile():
    """Make aesara's default mode FAST_RUN with
    :class:`crossnet.parallel_compile.ParallelCompileVMLinker` (aesara's
    ``cvm`` linker that runs the ``g++`` of new C modules in parallel);
    return whether it was done. Left alone when the user chose a mode or
    linker (``AESARA_FLAGS``), or ``CROSSNET_COMPILE_JOBS=1``."""
    user_chose = _flag_names(os.environ.get("AESARA_FLAGS", "")) & {"mode",
                                                                   "linker"}
    if (user_chose or aesara.config.mode != "Mode"
            or aesara.config.linker != "cvm" or not aesara.config.cxx):
        return False
    from .parallel_compile import ParallelCompileVMLinker, compile_jobs
    if compile_jobs() < 2:
        return False
    aesara.config.mode = aesara.compile.mode.Mode(
        linker=ParallelCompileVMLinker(use_cloop=True), optimizer="fast_run")
    from .precompiled_header import install
    install()
    return True


PARALLEL_COMPILE = use_parallel_compile()


def fold_constants_in_python():
    """Make aesara's constant folding compute with each Op's Python
    implementation (``perform``) instead of compiling its C code; return
    whether it was done (not twice).

    Folding a node runs its Op once, on constants, while a graph is being
    rewritten. With C code that means one ``g++`` run (about 0.6 s) for
    every new kind of folded node, one after another, outside the parallel
    pass of :mod:`crossnet.parallel_compile`: 19 of the 90 modules of the
    GAN stage at 64x64 from an empty cache (its compile 35 -> 28 s). An Op
    without a Python implementation is still folded with its C code."""
    from aesara.tensor.rewriting import basic as rewriting
    folding = rewriting.constant_folding
    if getattr(folding, "_crossnet_python", False):
        return False
    c_transform = folding.transform

    def transform(fgraph, node):
        try:
            with aesara.config.change_flags(cxx=""):
                return c_transform(fgraph, node)
        except Exception:           # no perform(): fold with C code
            return c_transform(fgraph, node)

    folding.transform = transform
    folding._crossnet_python = True
    return True


PYTHON_CONSTANT_FOLDING = fold_constants_in_python()


def describe():
    """A dict saying how aesara is set up here (for logs and benchmarks)."""
    return {
        "aesara": aesara.__version__,
        "floatX": aesara.config.floatX,
        "linker": aesara.config.linker,
        "parallel_compile": PARALLEL_COMPILE,
        "python_constant_folding": PYTHON_CONSTANT_FOLDING,
        "blas_ldflags": aesara.config.blas__ldflags or "(NumPy C-API gemm)",
        "compiledir": aesara.config.compiledir,
        "openmp": bool(aesara.config.openmp),
        "patched_ops": list(PATCHED_OPS),
        "malloc_tuned": MALLOC_TUNED,
        "blas_threads": BLAS_THREADS or "system",
    }
