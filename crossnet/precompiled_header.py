"""A precompiled header for aesara's C modules: the includes they all start with.

Every C module aesara compiles begins with the same headers (Python.h,
iostream, aesara_mod_helper.h, numpy's arrayobject.h, ...). Parsing them is
about half of a module's ``g++`` run here (0.44 -> 0.22 s for a typical
elementwise module, measured on 2 cores), and a training stage brings 30-90
new modules. :func:`build_for` compiles those headers once per compiler,
flags and include directories into ``<compiledir>/crossnet_pch/<hash>/``
(atomically: built in a temporary folder, then renamed), and
:func:`install` makes aesara's ``GCC_compiler.compile_str`` pass ``-include``
of that header to every ``g++`` run whose flags have one. g++ uses the
``.gch`` when the module's options allow it and otherwise reads the header
text, which the module includes first anyway: the library built is the
same either way, and the modules' cache keys do not change.

:mod:`crossnet.parallel_compile` builds the header for each set of flags
that several new modules share before it runs their ``g++``.
``CROSSNET_PCH=0`` turns all of this off.

The same wrapper leaves out debug information: aesara runs ``g++ -g``,
and ``-g0`` after it takes a fifth off a module's compile (0.44 -> 0.35 s
with the header, measured on 8 elementwise modules); the code generated
is the same. ``CROSSNET_GXX_DEBUG=1`` keeps ``-g``.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile

from .backend import aesara
from aesara.link.c import cmodule

__all__ = ["HEADERS", "enabled", "build_for", "header_for", "install",
           "debug_flags"]

# what aesara's DynamicModule and CLinker put first in every module
HEADERS = ("<Python.h>", "<iostream>", '"aesara_mod_helper.h"', "<math.h>",
           "<numpy/arrayobject.h>", "<numpy/arrayscalars.h>", "<vector>",
           "<algorithm>")
NAME = "crossnet_pch.h"
ENV = "CROSSNET_PCH"
DEBUG_ENV = "CROSSNET_GXX_DEBUG"


def enabled():
    """True unless ``CROSSNET_PCH=0`` or there is no C++ compiler."""
    return os.environ.get(ENV, "1") != "0" and bool(aesara.config.cxx)


def debug_flags():
    """``[]`` when ``CROSSNET_GXX_DEBUG=1`` (aesara's ``-g`` stays),
    else ``["-g0"]``: what the wrapper adds after aesara's flags."""
    return [] if os.environ.get(DEBUG_ENV, "0") == "1" else ["-g0"]


def _folder(preargs, include_dirs):
    """The folder of the header for these flags (it may not exist yet)."""
    text = "\n".join(["#include %s" % h for h in HEADERS]) + "\n"
    key = "\0".join([aesara.config.cxx, text] + list(preargs or [])
                    + debug_flags() + ["-I"] + list(include_dirs or []))
    digest = hashlib.sha1(key.encode()).hexdigest()[:20]
    return os.path.join(aesara.config.compiledir, "crossnet_pch", digest), text


def header_for(preargs, include_dirs):
    """Path of the built header for these ``compile_str`` flags, or None."""
    folder, _ = _folder(preargs, include_dirs)
    header = os.path.join(folder, NAME)
    return header if os.path.isfile(header + ".gch") else None


def _command(preargs, include_dirs, output, source):
    """g++ as ``compile_str`` runs it, for a header instead of a module."""
    flags = list(preargs or [])
    if aesara.config.cmodule__remove_gxx_opt:
        flags = [p for p in flags if not p.startswith("-O")]
    dirs = [d for d in (include_dirs or []) if d] + cmodule.std_include_dirs()
    return ([aesara.config.cxx, "-x", "c++-header", "-g"] + flags
            + debug_flags() + ["-I%s" % d for d in dirs]
            + ["-o", output, source])


def build_for(preargs, include_dirs):
    """Build the header for these flags unless it exists; its path, or None
    when g++ failed (then modules are compiled without it)."""
    if not enabled():
        return None
    found = header_for(preargs, include_dirs)
    if found:
        return found
    folder, text = _folder(preargs, include_dirs)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="building-", dir=parent)
    try:
        source = os.path.join(staging, NAME)
        with open(source, "w") as fh:
            fh.write(text)
        done = subprocess.run(_command(preargs, include_dirs, source + ".gch",
                                       source),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if done.returncode != 0:
            return None
        try:
            os.rename(staging, folder)       # atomic; another process may
        except OSError:                      # have built it meanwhile
            pass
        return header_for(preargs, include_dirs)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_installed = []


def install():
    """Wrap ``GCC_compiler.compile_str`` so that a run whose flags have a
    built header includes it first, and leaves out debug information
    (:func:`debug_flags`); returns whether it is installed."""
    if _installed or not aesara.config.cxx:
        return bool(_installed)
    original = cmodule.GCC_compiler.compile_str

    def compile_str(module_name, src_code, location=None, include_dirs=None,
                    lib_dirs=None, libs=None, preargs=None, py_module=True,
                    hide_symbols=True):
        header = header_for(preargs, include_dirs) if enabled() else None
        preargs = list(preargs or []) + debug_flags()
        if header:
            preargs += ["-include", header]
        return original(module_name, src_code, location, include_dirs,
                        lib_dirs, libs, preargs, py_module, hide_symbols)

    cmodule.GCC_compiler.compile_str = staticmethod(compile_str)
    _installed.append(original)
    return True
