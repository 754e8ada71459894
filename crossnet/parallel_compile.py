"""Compile a function's C modules on every core, before aesara links it.

aesara compiles the C module of each new Op signature one after another,
while it links a function (``VMLinker.make_all`` -> ``make_thunk`` per
node), under one lock. A training stage brings 30-90 new modules of about
0.6 s of ``g++`` each, so on a 2-core machine half the CPU idles during
the first compile.

:class:`ParallelCompileVMLinker` runs a pass first: it builds the C linker
of every node exactly as ``COp.make_c_thunk`` does, keeps those whose
module is not in aesara's cache (one per distinct source), runs their
``g++`` in a thread pool (``compile_str`` without the final import), and
then adds each to the cache through ``ModuleCache.module_from_key`` -- the
same call, lock and key files as a serial compile, only the ``g++`` run is
already done. aesara's own linking then finds every module in the cache.
The pass is only a speed-up: a node it cannot handle, or a failed ``g++``,
is left to aesara, which compiles it (and reports errors) as before.
Before the modules, it builds a precompiled header
(:mod:`crossnet.precompiled_header`) for each set of flags that several of
them share.

``CROSSNET_COMPILE_JOBS`` sets the number of ``g++`` processes (default:
the cores this process may use; 1 turns the pass off).
"""
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

from . import precompiled_header
from .backend import aesara
from aesara.graph.fg import FunctionGraph
from aesara.link.c import cmodule
from aesara.link.c.basic import CLinker, get_module_cache
from aesara.link.c.op import COp
from aesara.link.vm import VMLinker

__all__ = ["ParallelCompileVMLinker", "precompile_c_modules", "compile_jobs"]

# a set of compile flags gets its precompiled header (about 1 s of g++)
# when at least this many new modules of one pass share it (each then
# saves about 0.2 s)
PCH_MIN_MODULES = 6


def compile_jobs():
    """Number of parallel ``g++`` runs: ``$CROSSNET_COMPILE_JOBS`` or the
    cores this process may run on."""
    value = os.environ.get("CROSSNET_COMPILE_JOBS", "").strip()
    if value:
        try:
            jobs = int(value)
        except ValueError:
            raise ValueError("CROSSNET_COMPILE_JOBS must be a whole number, got %r"
                             % value) from None
        return max(1, jobs)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _new_module(node, known_keys):
    """``(key, src, compiler, arguments)`` of the C module of ``node`` when
    it is not among ``known_keys``: its CLinker built as
    ``COp.make_c_thunk`` builds it (the VM passes no no-recycling list) and
    the ``compile_str`` arguments ``CLinker.compile_cmodule`` would use; or
    None (known, or no C code)."""
    if not isinstance(node.op, COp) or not aesara.config.cxx:
        return None
    try:
        # the order of COp.make_thunk and CLinker.cthunk_factory
        node.op.prepare_node(node, storage_map={}, compute_map=None, impl="c")
        linker = CLinker().accept(FunctionGraph(node.inputs, node.outputs),
                                  no_recycling=[])
        key = linker.cmodule_key()
        if key is None or key in known_keys:
            return None
        for inner in linker.node_order:
            inner.op.prepare_node(inner, {}, None, "c")
        src = linker.get_src_code()
        arguments = dict(module_name=linker.get_dynamic_module().code_hash,
                         src_code=src, include_dirs=linker.header_dirs(),
                         lib_dirs=linker.lib_dirs(), libs=linker.libraries(),
                         preargs=linker.compile_args())
        return key, src, linker.c_compiler(), arguments
    except Exception:
        # no C code (NotImplementedError, MethodNotDefined, ...) or a key
        # aesara cannot build: the normal path decides what to do
        return None


class _Prebuilt:
    """What ``ModuleCache.module_from_key`` needs of a linker, for a module
    whose ``g++`` already ran in ``staging``: its source, and a
    ``compile_cmodule`` that moves the built files into place and imports
    them."""

    def __init__(self, src, staging, library):
        self.src = src
        self.staging = staging
        self.library = library

    def get_src_code(self):
        return self.src

    def compile_cmodule(self, location):
        for name in os.listdir(self.staging):
            shutil.move(os.path.join(self.staging, name), os.path.join(location, name))
        return cmodule.dlimport(os.path.join(location, self.library))


def precompile_c_modules(nodes, jobs=None):
    """Compile, ``jobs`` at a time, the C modules of ``nodes`` (Apply nodes)
    that aesara's module cache does not hold yet, and add them to it.
    Returns the number of modules compiled."""
    jobs = compile_jobs() if jobs is None else jobs
    cache = get_module_cache()
    todo = {}                      # module hash -> (key, src, compiler, arguments)
    for node in nodes:
        found = _new_module(node, cache.entry_from_key)
        if found is None:
            continue
        module_hash = cmodule.get_module_hash(found[1], found[0])
        if module_hash not in cache.module_hash_to_key_data:
            todo.setdefault(module_hash, found)
    if len(todo) < 2 or jobs < 2:
        return 0                                # nothing to gain over aesara
    work = [(key, src, compiler, arguments, tempfile.mkdtemp(prefix="crossnet-gxx-"))
            for key, src, compiler, arguments in todo.values()]
    # a precompiled header for each set of flags that several modules share
    groups = {}
    for _, _, _, arguments, _ in work:
        flags = (tuple(arguments["preargs"] or ()),
                 tuple(arguments["include_dirs"] or ()))
        groups[flags] = groups.get(flags, 0) + 1
    headers = [flags for flags, n in groups.items()
               if n >= PCH_MIN_MODULES and precompiled_header.enabled()]

    def build(item):
        """g++ into the item's staging folder; the library's file name, or
        None (aesara then compiles the module itself and says what is wrong)."""
        _, _, compiler, arguments, staging = item
        try:
            return os.path.basename(compiler.compile_str(location=staging, **arguments))
        except Exception:
            return None

    # compile_str ends by importing the library; the import happens in
    # module_from_key instead (main thread, under aesara's lock)
    real_dlimport = cmodule.dlimport
    cmodule.dlimport = lambda fullpath, suffix=None: fullpath
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda flags: precompiled_header.build_for(*flags),
                          headers))
            libraries = list(pool.map(build, work))
    finally:
        cmodule.dlimport = real_dlimport
    done = 0
    try:
        for (key, src, _, _, staging), library in zip(work, libraries):
            if library is None:
                continue
            try:
                cache.module_from_key(key=key, lnk=_Prebuilt(src, staging, library))
            except Exception:
                continue                        # left to aesara, as above
            done += 1
    finally:
        for item in work:
            shutil.rmtree(item[-1], ignore_errors=True)
    return done


class ParallelCompileVMLinker(VMLinker):
    """aesara's C virtual machine linker, with :func:`precompile_c_modules`
    run over the schedule before the thunks are made."""

    def make_all(self, profiler=None, input_storage=None, output_storage=None,
                 storage_map=None):
        if self.c_thunks is not False:
            precompile_c_modules(self.schedule(self.fgraph))
        return super().make_all(profiler=profiler, input_storage=input_storage,
                                output_storage=output_storage,
                                storage_map=storage_map)
