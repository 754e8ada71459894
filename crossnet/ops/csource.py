"""Ops whose C code lives in ``crossnet/csrc/*.c``, read when aesara compiles."""
import zlib

from aesara.link.c.op import OpenMPOp

from ..csrc import read_source

__all__ = ["SourceOp"]


class SourceOp(OpenMPOp):
    """An OpenMP Op whose C support code is the file ``sources[0]`` of
    ``crossnet/csrc`` (it may include the others), compiled with -O3. Its
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
