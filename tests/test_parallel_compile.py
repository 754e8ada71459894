"""Parallel g++ before aesara links a function: same modules, same results."""
import secrets

import numpy as np
import pytest

from crossnet import backend, parallel_compile
from crossnet.backend import aesara, at
from crossnet.parallel_compile import (ParallelCompileVMLinker, compile_jobs,
                                       precompile_c_modules)
from aesara.graph.basic import Apply
from aesara.link.c.op import COp

# bounded, and no pair of these simplifies (unlike abs(abs(x))), so each
# chain stays one fused module of its own with float32-accurate values
UNARY = {"tanh": (at.tanh, np.tanh), "sin": (at.sin, np.sin),
         "cos": (at.cos, np.cos)}


def _new_chains(k=3, length=14):
    """``k`` random chains of unary ops: fused elementwise modules that the
    compile cache does not hold yet (3^14 possible chains each)."""
    names = sorted(UNARY)
    return [[names[secrets.randbelow(len(names))] for _ in range(length)]
            for _ in range(k)]


def _graph(chains):
    x = at.vector("x", dtype="float32")
    outs = []
    for chain in chains:
        y = x
        for name in chain:
            y = UNARY[name][0](y)
        outs.append(y * 0.5)
    return x, outs


def _numpy(chains, x):
    outs = []
    for chain in chains:
        y = x.astype("f8")
        for name in chain:
            y = UNARY[name][1](y)
        outs.append(0.5 * y)
    return outs


def _rewritten_nodes(x, outs):
    """The nodes aesara would link, without linking them."""
    fn = aesara.function([x], outs, mode=aesara.compile.mode.Mode(
        linker="py", optimizer="fast_run"))
    return fn.maker.fgraph.toposort()


def test_precompiled_modules_are_the_ones_aesara_links():
    chains = _new_chains()
    x, outs = _graph(chains)
    nodes = _rewritten_nodes(x, outs)
    built = precompile_c_modules(nodes, jobs=2)
    assert built >= 2, "expected new modules for %s" % chains
    # all in the cache now: a second pass finds nothing to do
    assert precompile_c_modules(nodes, jobs=2) == 0
    fn = aesara.function([x], outs, mode=aesara.compile.mode.Mode(
        linker=ParallelCompileVMLinker(use_cloop=True), optimizer="fast_run"))
    assert all(hasattr(t, "cthunk") for t in fn.vm.thunks if t is not None)
    xv = np.linspace(-1, 1, 11).astype("float32")
    for got, want in zip(fn(xv), _numpy(chains, xv)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_one_job_leaves_everything_to_aesara():
    x, outs = _graph(_new_chains())
    assert precompile_c_modules(_rewritten_nodes(x, outs), jobs=1) == 0


class _BrokenC(COp):
    """An Op whose C code does not compile (a different module each run)."""
    __props__ = ("tag",)

    def __init__(self, tag):
        self.tag = tag

    def make_node(self, x):
        x = at.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = inputs[0].copy()

    def c_code_cache_version(self):
        return (1,)

    def c_code(self, node, name, inputs, outputs, sub):
        return "this is not C %s;" % self.tag


def test_a_failed_compile_is_left_to_aesara_which_reports_it():
    chains = _new_chains(k=2)
    x, outs = _graph(chains)
    broken = _BrokenC(secrets.token_hex(8))(x)
    nodes = _rewritten_nodes(x, outs + [broken])
    assert any(isinstance(n.op, _BrokenC) for n in nodes)
    # the good modules are built; the broken one is skipped without error
    assert precompile_c_modules(nodes, jobs=2) >= 1, chains
    mode = aesara.compile.mode.Mode(linker=ParallelCompileVMLinker(use_cloop=True),
                                    optimizer="fast_run")
    with pytest.raises(Exception, match="this is not C|error"):
        aesara.function([x], outs + [broken], mode=mode)


def test_compile_jobs_reads_the_environment(monkeypatch):
    monkeypatch.setenv("CROSSNET_COMPILE_JOBS", "3")
    assert compile_jobs() == 3
    monkeypatch.setenv("CROSSNET_COMPILE_JOBS", "0")
    assert compile_jobs() == 1
    monkeypatch.setenv("CROSSNET_COMPILE_JOBS", "many")
    with pytest.raises(ValueError, match="CROSSNET_COMPILE_JOBS must be a whole number"):
        compile_jobs()
    monkeypatch.delenv("CROSSNET_COMPILE_JOBS")
    assert compile_jobs() >= 1


def test_default_mode_uses_the_parallel_linker_unless_turned_off():
    if not backend.PARALLEL_COMPILE:
        pytest.skip("parallel compile is off here (one core, CROSSNET_COMPILE_JOBS=1 "
                    "or a mode/linker in AESARA_FLAGS)")
    fn = aesara.function([], at.constant(1.0) + 1)
    assert isinstance(fn.maker.linker, ParallelCompileVMLinker)
    assert backend.describe()["parallel_compile"] is True
    assert parallel_compile.compile_jobs() >= 2
