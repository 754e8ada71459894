"""Build crossnet's C sources for an instruction set other than this CPU's.

aesara compiles the C code of the Ops with ``-march=native``; these helpers
compile a source (plus a small ``extern "C"`` entry point) for AVX2 or for
the SSE baseline with ctypes, so that the paths of CPUs without AVX-512 run
(and are checked) on any x86-64 machine.
"""
import ctypes
import platform
import subprocess

import pytest

from crossnet.backend import aesara
from crossnet.csrc import HERE, read_source

# g++ flags of each portable target (the compiler's default -march is the
# x86-64 baseline: SSE2)
ISA_FLAGS = {"avx2": ["-mavx2", "-mfma", "-mno-avx512f"], "sse": ["-mno-avx"]}


def build_for_isa(source_name, entry_points, isa, folder):
    """ctypes library of ``crossnet/csrc/<source_name>`` followed by the C++
    text ``entry_points``, compiled with OpenMP for ``isa`` (a key of
    ``ISA_FLAGS``) into ``folder``; skips off x86-64."""
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("the portable instruction sets are x86-64 ones")
    path = str(folder / ("%s_%s.so" % (source_name.split(".")[0], isa)))
    proc = subprocess.run(
        [aesara.config.cxx or "g++", "-O2", "-fopenmp", "-shared", "-fPIC",
         "-I", HERE] + ISA_FLAGS[isa] + ["-x", "c++", "-", "-o", path],
        input=read_source(source_name) + entry_points, text=True,
        capture_output=True)
    assert proc.returncode == 0, proc.stderr
    return ctypes.CDLL(path)
