"""Checkpoints in the authors' layout: one ``.npz`` per network part.

``<dir>/<prefix>_<stem>.npz`` with ``stem`` in ``en_params, de_params,
align, gen_params, dis_params, reco_params, metr_params`` and arrays
``arr_0 .. arr_N`` in Lasagne's ``get_all_param_values`` order (batch-norm
running statistics included). The authors' release writes prefix ``-1``
for its final model; crossnet uses the same. Each file is written to a
temporary file in the same folder and renamed, so a crash never leaves a
half-written checkpoint.
"""
import os
import zipfile

import numpy as np

from .fileio import atomic_write
from .networks.crossing_net import PART_FILES

__all__ = ["part_path", "save_part", "load_part", "save_checkpoint",
           "load_checkpoint", "atomic_savez", "atomic_savez_dict",
           "CheckpointError"]

DEFAULT_PREFIX = "-1"


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or does not fit the network."""


def part_path(directory, part, prefix=DEFAULT_PREFIX):
    return os.path.join(directory, "%s_%s.npz" % (prefix, PART_FILES[part]))


def atomic_savez(path, arrays):
    """``np.savez(path, *arrays)`` (arr_0, arr_1, ...) through a temp file +
    rename."""
    atomic_savez_dict(path, {"arr_%d" % i: a for i, a in enumerate(arrays)})


def read_npz_arrays(path):
    """Arrays ``arr_0..arr_N`` of an npz file, in order; clear errors."""
    if not os.path.isfile(path):
        raise CheckpointError("%s: checkpoint file not found" % path)
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            expected = ["arr_%d" % i for i in range(len(names))]
            if sorted(names) != sorted(expected):
                raise CheckpointError(
                    "%s: expected arrays arr_0..arr_%d (Lasagne layout), found "
                    "%s" % (path, len(names) - 1, sorted(names)))
            return [z[k] for k in expected]
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise CheckpointError("%s: not a readable .npz file (%s)" % (path, exc))


def save_part(net, part, directory, prefix=DEFAULT_PREFIX):
    path = part_path(directory, part, prefix)
    atomic_savez(path, [p.get_value() for p in net.part_params(part)])
    return path


def load_part(net, part, directory, prefix=DEFAULT_PREFIX):
    """Set one part's parameters from its file; checks count and shapes
    (naming file, array and layer) before setting anything."""
    path = part_path(directory, part, prefix)
    arrays = read_npz_arrays(path)
    params = net.part_params(part)
    if len(arrays) != len(params):
        raise CheckpointError("%s: %d arrays, the %s (%s) has %d parameters"
                              % (path, len(arrays), part,
                                 net.config.dataset, len(params)))
    for i, (p, a) in enumerate(zip(params, arrays)):
        want = p.get_value(borrow=True).shape
        if a.shape != want:
            raise CheckpointError(
                "%s: arr_%d has shape %s, parameter %s of the %s expects %s "
                "(wrong dataset or image size?)"
                % (path, i, a.shape, p.name, part, want))
        if not np.all(np.isfinite(a)):
            raise CheckpointError("%s: arr_%d (%s) holds NaN or inf"
                                  % (path, i, p.name))
    for p, a in zip(params, arrays):
        p.set_value(a.astype(p.dtype))
    return path


def save_checkpoint(net, directory, prefix=DEFAULT_PREFIX, parts=None):
    """Write every part (or ``parts``); returns the file paths."""
    return [save_part(net, part, directory, prefix)
            for part in (parts or PART_FILES)]


def load_checkpoint(net, directory, prefix=DEFAULT_PREFIX, parts=None):
    """Load every part (or ``parts``) from ``directory``.

    All files are read and checked before any parameter changes, so a bad
    file leaves the network as it was.
    """
    if not os.path.isdir(directory):
        raise CheckpointError("%s: checkpoint folder not found" % directory)
    parts = list(parts or PART_FILES)
    saved = {part: [p.get_value() for p in net.part_params(part)]
             for part in parts}
    try:
        return [load_part(net, part, directory, prefix) for part in parts]
    except BaseException:
        for part, values in saved.items():
            for p, v in zip(net.part_params(part), values):
                p.set_value(v)
        raise


def atomic_savez_dict(path, arrays):
    """``np.savez(path, **arrays)`` through a temp file + rename."""
    atomic_write(path, lambda fh: np.savez(fh, **arrays))
