"""crossnet.ops.csource: the instruction set of the convolution kernels."""
import platform

import pytest

from crossnet.ops.conv6x6 import Conv6x6S2
from crossnet.ops.conv_train import Corr6x6S2, Corr6x6S2GradWeights
from crossnet.ops.csource import ISAS, isa_default


def test_isa_follows_the_environment(monkeypatch):
    monkeypatch.delenv("CROSSNET_ISA", raising=False)
    assert isa_default() == "native"
    assert Corr6x6S2().isa == Conv6x6S2().isa == "native"
    monkeypatch.setenv("CROSSNET_ISA", "avx2")
    assert isa_default() == "avx2"
    assert Corr6x6S2().isa == Corr6x6S2GradWeights().isa == Conv6x6S2().isa == "avx2"
    # a portable build never takes the AMX path
    assert not Corr6x6S2(amx=True).amx and not Conv6x6S2(amx=True).amx
    assert Corr6x6S2("sse").isa == "sse"          # an explicit choice wins


def test_a_wrong_isa_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("CROSSNET_ISA", "avx1024")
    with pytest.raises(ValueError, match="CROSSNET_ISA.*avx2"):
        isa_default()
    with pytest.raises(ValueError, match="isa must be one of"):
        Corr6x6S2("neon")


def test_portable_builds_drop_the_native_flags():
    class Compiler:
        @staticmethod
        def compile_args():
            return ["-O3", "-march=native", "-mavx512f", "-fno-math-errno"]
    for isa in ISAS:
        op = Conv6x6S2(isa=isa)
        dropped = op.c_no_compile_args(c_compiler=Compiler)
        if isa == "native":
            assert dropped == []
        else:
            assert dropped == ["-march=native", "-mavx512f"]
        if platform.machine() in ("x86_64", "AMD64"):
            assert ("-mavx2" in op.c_compile_args()) == (isa == "avx2")
