"""Precompiled header of aesara's C modules, and constant folding in Python."""
import os
import secrets

import numpy as np
import pytest

from crossnet import precompiled_header as pch
from crossnet.backend import aesara, at
from aesara.link.c import cmodule

FLAGS = list(cmodule.GCC_compiler.compile_args()) + ["-O3", "-fno-math-errno"]


def _fresh_flags():
    """Flags of a header that no earlier run built (a harmless macro)."""
    return FLAGS + ["-DCROSSNET_PCH_TEST_%s" % secrets.token_hex(6)]


def test_header_is_built_once_per_flags_and_found():
    flags = _fresh_flags()
    assert pch.header_for(flags, []) is None
    header = pch.build_for(flags, [])
    assert header is not None and header.endswith(pch.NAME)
    assert os.path.getsize(header + ".gch") > 0
    with open(header) as fh:
        assert fh.read().splitlines() == ["#include %s" % h for h in pch.HEADERS]
    assert pch.header_for(flags, []) == header
    assert pch.build_for(flags, []) == header          # not rebuilt
    assert pch.header_for(flags + ["-DOTHER"], []) is None
    # nothing half-built left beside it
    parent = os.path.dirname(os.path.dirname(header))
    assert not [d for d in os.listdir(parent) if d.startswith("building-")]


def test_a_failed_build_gives_no_header():
    flags = _fresh_flags() + ["-fno-such-option-crossnet"]
    assert pch.build_for(flags, []) is None
    assert pch.header_for(flags, []) is None


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv(pch.ENV, "0")
    assert not pch.enabled()
    assert pch.build_for(_fresh_flags(), []) is None


@pytest.fixture
def gxx_commands(monkeypatch):
    """The command lines aesara runs (g++ among them), as they run."""
    commands = []
    run = cmodule.output_subprocess_Popen

    def spy(command, *args, **kwargs):
        commands.append(list(command))
        return run(command, *args, **kwargs)
    monkeypatch.setattr(cmodule, "output_subprocess_Popen", spy)
    return commands


UNARY = {"tanh": (at.tanh, np.tanh), "sin": (at.sin, np.sin),
         "cos": (at.cos, np.cos)}


def _elemwise_function(chain):
    """A function of one fused elementwise module: the unary ops of
    ``chain`` (a new module for a chain the cache has not seen)."""
    x = at.vector("x", dtype="float32")
    y = x
    for name in chain:
        y = UNARY[name][0](y)
    return aesara.function([x], y * 0.5, mode=aesara.compile.mode.Mode(
        linker="cvm", optimizer="fast_run"))


def _chain(length=14):
    return [sorted(UNARY)[secrets.randbelow(3)] for _ in range(length)]


def test_modules_are_compiled_with_their_flags_header(gxx_commands):
    from aesara.graph.fg import FunctionGraph
    from aesara.link.c.basic import CLinker
    assert pch.install()                    # installed at import already
    fn = _elemwise_function(_chain())
    node = [n for n in fn.maker.fgraph.toposort()
            if type(n.op).__name__ == "Elemwise"][0]
    linker = CLinker().accept(FunctionGraph(node.inputs, node.outputs))
    header = pch.build_for(linker.compile_args(), linker.header_dirs())
    assert header is not None
    chain = _chain()                        # a new module, the same flags
    fn2 = _elemwise_function(chain)
    assert any(header in cmd and "-include" in cmd for cmd in gxx_commands), \
        gxx_commands
    xv = np.linspace(-1, 1, 33).astype("float32")
    want = xv.astype("f8")
    for name in chain:
        want = UNARY[name][1](want)
    np.testing.assert_allclose(fn2(xv), 0.5 * want, rtol=1e-4, atol=1e-6)


def test_modules_are_compiled_without_debug_information(monkeypatch,
                                                       gxx_commands):
    """aesara's -g is overridden by a later -g0, unless CROSSNET_GXX_DEBUG=1;
    the module works either way."""
    assert pch.install()
    xv = np.linspace(-1, 1, 9).astype("float32")
    for debug in ("0", "1"):
        monkeypatch.setenv(pch.DEBUG_ENV, debug)
        gxx_commands.clear()
        chain = _chain()                    # a new module
        fn = _elemwise_function(chain)
        gxx = [c for c in gxx_commands if "-shared" in c]
        assert gxx, gxx_commands
        for cmd in gxx:
            g = [i for i, a in enumerate(cmd) if a in ("-g", "-g0")]
            assert cmd[g[-1]] == ("-g" if debug == "1" else "-g0"), cmd
        want = xv.astype("f8")
        for name in chain:
            want = UNARY[name][1](want)
        np.testing.assert_allclose(fn(xv), 0.5 * want, rtol=1e-4, atol=1e-6)


def test_constant_folding_uses_python_and_compiles_nothing(monkeypatch):
    """A new kind of constant expression is folded without a g++ run."""
    from crossnet import backend
    assert backend.PYTHON_CONSTANT_FOLDING
    runs = []
    original = cmodule.GCC_compiler.compile_str

    def counting(*args, **kwargs):
        runs.append(args[0] if args else kwargs.get("module_name"))
        return original(*args, **kwargs)
    monkeypatch.setattr(cmodule.GCC_compiler, "compile_str",
                        staticmethod(counting))
    chain = _chain()          # a kind of node no earlier run has folded
    c = np.linspace(-1, 1, 7).astype("float32")
    folded = at.constant(c)
    for name in chain:
        folded = UNARY[name][0](folded)
    x = at.vector("x", dtype="float32")
    fn = aesara.function([x], x + folded.sum(),
                         mode=aesara.compile.mode.Mode(linker="py",
                                                       optimizer="fast_run"))
    assert runs == []
    want = c.astype("f8")
    for name in chain:
        want = UNARY[name][1](want)
    np.testing.assert_allclose(fn(np.zeros(2, "float32")), [want.sum()] * 2,
                               rtol=1e-5)
