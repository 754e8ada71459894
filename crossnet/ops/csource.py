"""Ops whose C code lives in ``crossnet/csrc/*.c``, read when aesara compiles."""
import os
import platform
import zlib

from aesara.link.c.op import OpenMPOp

from ..csrc import HERE, read_source

__all__ = ["SourceOp", "PortableSourceOp", "ISAS", "isa_default"]

ISAS = ("native", "avx2", "sse")
# flags added for a portable build; aesara's own -march/-m<isa> flags (which
# come after an Op's flags) are removed for it (c_no_compile_args)
_ISA_FLAGS = {"native": [], "avx2": ["-mavx", "-mavx2", "-mfma"], "sse": []}
_ARCH_FLAGS = ("-march=", "-mavx", "-mfma", "-mamx", "-mf16c", "-mvpclmulqdq",
               "-mvaes", "-mgfni", "-mbmi")


def isa_default():
    """The instruction set the convolution kernels are compiled for:
    ``$CROSSNET_ISA`` ("native", "avx2" or "sse"; default "native", what
    the CPU has). The portable builds are for timing and testing the paths
    of CPUs without AVX-512 on one that has it."""
    isa = os.environ.get("CROSSNET_ISA", "native").strip() or "native"
    if isa not in ISAS:
        raise ValueError("CROSSNET_ISA must be one of %s, got %r"
                         % (", ".join(ISAS), isa))
    return isa


class SourceOp(OpenMPOp):
    """An OpenMP Op whose C support code is the file ``sources[0]`` of
    ``crossnet/csrc`` (it may include the others: the folder is a header
    directory), compiled with -O3. Its
    cache version is ``version``, the OpenMP switch, the Op's properties and
    a checksum of every file in ``sources``: an edited .c file is compiled
    again."""

    sources = ()
    version = 1

    def c_compile_args(self, **kwargs):
        return list(super().c_compile_args(**kwargs)) + ["-O3"]

    def c_code_cache_version(self):
        text = "".join(read_source(s) for s in self.sources)
        return ((self.version, self.openmp)
                + tuple(getattr(self, p) for p in self.__props__)
                + (zlib.crc32(text.encode()),))

    def c_support_code(self, **kwargs):
        return read_source(self.sources[0])

    def c_header_dirs(self, **kwargs):
        return [HERE] + super().c_header_dirs(**kwargs)


class PortableSourceOp(SourceOp):
    """A :class:`SourceOp` compiled for ``self.isa`` (one of ``ISAS``):
    "native" keeps aesara's ``-march`` flags; "avx2" and "sse" drop them
    for the x86-64 baseline plus AVX2 + FMA, or nothing."""

    isa = "native"

    def _set_isa(self, isa):
        isa = isa_default() if isa is None else isa
        if isa not in ISAS:
            raise ValueError("isa must be one of %s, got %r" % (ISAS, isa))
        self.isa = isa

    def c_compile_args(self, **kwargs):
        flags = super().c_compile_args(**kwargs)
        if platform.machine() in ("x86_64", "AMD64"):
            flags += _ISA_FLAGS[self.isa]
        return flags

    def c_no_compile_args(self, c_compiler=None, **kwargs):
        if self.isa == "native" or c_compiler is None:
            return []
        return [f for f in c_compiler.compile_args() if f.startswith(_ARCH_FLAGS)]
