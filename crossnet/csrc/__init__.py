"""C sources of crossnet (``*.c`` beside this file) and how to build them.

The aesara Ops read their C code from here; small stand-alone helpers (the
FMA loop of :mod:`crossnet.cpu_peak`) are built into shared libraries with
:func:`build_shared_library`.
"""
import ctypes
import functools
import hashlib
import os
import platform
import subprocess
import tempfile

__all__ = ["source_path", "read_source", "build_shared_library",
           "native_target"]

HERE = os.path.dirname(os.path.abspath(__file__))


def source_path(name):
    """Absolute path of the C source ``name`` shipped with crossnet."""
    path = os.path.join(HERE, name)
    if not os.path.isfile(path):
        raise FileNotFoundError("crossnet C source %s is missing (a broken "
                                "install?)" % path)
    return path


def read_source(name):
    """Text of the C source ``name``."""
    with open(source_path(name)) as fh:
        return fh.read()


@functools.lru_cache(maxsize=None)
def native_target():
    """What ``-march=native`` means here: the CPU's model and instruction-set
    flags (``/proc/cpuinfo``), else the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as fh:
            lines = fh.read().split("\n\n")[0].splitlines()
        keep = [l for l in lines if l.split(":")[0].strip() in ("model name",
                                                               "flags")]
        if keep:
            return "\n".join(keep)
    except OSError:
        pass
    return "%s %s" % (platform.machine(), platform.processor())


def build_shared_library(name, flags):
    """Compile ``name`` with aesara's C compiler and ``flags`` into the
    crossnet compile directory (once per compiler, flags, source and, with
    ``-march=native``, CPU: the cache may outlive a change of machine) and
    load it with ctypes. The source may include the headers beside it
    (their text is part of the key)."""
    from ..backend import aesara
    cc = aesara.config.cxx or "g++"
    source = read_source(name)
    headers = "".join(read_source(h) for h in sorted(os.listdir(HERE))
                      if h.endswith(".h"))
    flags = list(flags) + ["-shared", "-fPIC", "-I", HERE, "-x", "c"]
    target = native_target() if "-march=native" in flags else ""
    key = hashlib.sha1(("\0".join([cc] + flags + [target]) + source + headers)
                       .encode()).hexdigest()[:16]
    folder = os.path.join(aesara.config.compiledir, "crossnet_csrc")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "%s_%s.so" % (os.path.splitext(name)[0], key))
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
        os.close(fd)
        try:
            proc = subprocess.run([cc] + flags + ["-", "-o", tmp], input=source,
                                  text=True, capture_output=True)
            if proc.returncode != 0:
                raise RuntimeError("compiling %s with %s failed:\n%s"
                                   % (source_path(name), cc, proc.stderr))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return ctypes.CDLL(path)
