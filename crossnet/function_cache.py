"""Compile a graph once per process, however many networks it is built for.

Every training arm, run or evaluation builds its own network, and with it
the same aesara functions again: the same stage steps, batch-norm passes
and predictions, each graph identical to one compiled before but for its
shared variables (the new network's weights and optimiser state). aesara
rewrites every such graph from scratch (several seconds each; 37 s of the
demo's first compile is rewriting), even when the C modules are cached.

:func:`function` is ``aesara.function`` for plain inputs, outputs and
updates, with a per-process memory: it describes the graph as given (before
any rewriting) by its structure alone -- the inputs' types (used or not),
every node's Op, which earlier variable each of its inputs is, every
constant's type and value, every shared variable's type and position, the
updates (explicit, then the default updates ``aesara.function`` adds) --
and, when an identical graph was compiled before, returns that
function's ``copy`` with each shared variable swapped for its counterpart
in the new graph. The copy skips the rewrites; it links the rewritten
graph again (its C modules come from the cache) with storage of its own.
Ops compare by their ``__props__`` (as aesara's own merging does), so a
graph that differs in any Op parameter, constant, type or wiring is
compiled anew; so is one built while aesara's mode, optimizer, linker or
``floatX`` flags differ.

``CROSSNET_FUNCTION_CACHE=0`` compiles every graph anew.
"""
import os

import numpy as np

from .backend import aesara
from aesara.compile.sharedvalue import SharedVariable
from aesara.graph.basic import Constant, Variable, graph_inputs, io_toposort

__all__ = ["function", "graph_key", "clear", "stats", "enabled", "ENV"]

ENV = "CROSSNET_FUNCTION_CACHE"

_cache = {}     # key -> (compiled function, its shared variables in order)
_stats = {"hits": 0, "misses": 0}


def enabled():
    """False when ``CROSSNET_FUNCTION_CACHE=0``."""
    return os.environ.get(ENV, "1") != "0"


def clear():
    """Forget every compiled function (and the networks they hold)."""
    _cache.clear()
    _stats.update(hits=0, misses=0)


def stats():
    """{'hits': copies handed out, 'misses': graphs compiled, 'size': ...}."""
    return dict(_stats, size=len(_cache))


def _constant_key(c):
    data = np.asarray(c.data)
    return ("constant", c.type, data.dtype.str, data.shape, data.tobytes())


def _with_default_updates(roots, updates):
    """``updates`` plus (shared, default_update) for every shared variable the
    graph reads that has one and no explicit update, to closure: what
    ``aesara.function`` (pfunc) adds."""
    updates = list(updates)
    targets = {sv for sv, _ in updates}
    while True:
        added = False
        for v in graph_inputs(roots + [u for _, u in updates]):
            if isinstance(v, SharedVariable) and v not in targets \
                    and getattr(v, "default_update", None) is not None:
                updates.append((v, v.default_update))
                targets.add(v)
                added = True
        if not added:
            return updates


def graph_key(inputs, outputs, updates=()):
    """(key, shared variables in order of first use) of the graph from
    ``inputs`` to ``outputs`` and ``updates`` ((shared, expression) pairs):
    two graphs get equal keys only when they are the same graph up to which
    variables they are made of (an Op without ``__props__`` equals only
    itself, so such graphs never match); their shared variables correspond
    by position."""
    outputs = list(outputs)
    updates = _with_default_updates(outputs, updates)
    roots = outputs + [u for _, u in updates]
    ref = {}
    shared = []
    for i, v in enumerate(inputs):
        ref[v] = ("input", i, v.type)

    def reference(v):
        if v in ref:
            return ref[v]
        if isinstance(v, SharedVariable):
            ref[v] = ("shared", len(shared), v.type)
            shared.append(v)
        elif isinstance(v, Constant):
            ref[v] = _constant_key(v)
        else:              # a free input aesara.function will refuse
            ref[v] = ("free", id(v), v.type)
        return ref[v]

    nodes = []
    for n, node in enumerate(io_toposort(list(graph_inputs(roots)), roots)):
        nodes.append((node.op, tuple(reference(v) for v in node.inputs),
                      tuple(o.type for o in node.outputs)))
        for j, o in enumerate(node.outputs):
            ref[o] = ("node", n, j)
    key = (tuple(v.type for v in inputs), tuple(nodes),
           tuple(reference(o) for o in outputs),
           tuple((reference(sv), reference(u)) for sv, u in updates))
    return key, shared


def _flags():
    c = aesara.config
    return (str(c.mode), str(c.optimizer), str(c.optimizer_excluding),
            str(c.optimizer_including), str(c.linker), c.floatX, c.cxx)


def function(inputs, outputs, updates=None, on_unused_input=None, name=None):
    """``aesara.function(inputs, outputs, updates=updates, ...)``, compiled
    at most once per process for each distinct graph (see the module).
    ``inputs``: Variables; ``outputs``: a Variable or a list of them;
    ``updates``: a dict or (shared, expression) pairs."""
    def compile_now():
        return aesara.function(inputs, outputs, updates=updates,
                               on_unused_input=on_unused_input, name=name)
    if not enabled() or not all(isinstance(v, Variable) for v in inputs):
        return compile_now()
    pairs = list(updates.items() if hasattr(updates, "items")
                 else (updates or ()))
    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    key, shared = graph_key(inputs, outs, pairs)
    key = (key, single, on_unused_input, _flags())
    try:
        hit = _cache.get(key)
    except TypeError:      # an unhashable Op or type: no memory for it
        return compile_now()
    if hit is None:
        fn = compile_now()
        _cache[key] = (fn, shared)
        _stats["misses"] += 1
        return fn
    fn, old_shared = hit
    implicit = {i.variable for i in fn.maker.inputs
                if isinstance(i.variable, SharedVariable)}
    swap = {old: new for old, new in zip(old_shared, shared)
            if old in implicit}
    if set(swap) != implicit:   # a shared input the key did not see
        return compile_now()
    _stats["hits"] += 1
    return fn.copy(swap=swap, name=name)
