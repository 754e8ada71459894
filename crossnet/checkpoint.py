"""Checkpoints in the authors' layout, and the run folders that hold them.

A checkpoint folder holds one ``.npz`` per network part,
``<dir>/<prefix>_<stem>.npz`` with ``stem`` in ``en_params, de_params,
align, gen_params, dis_params, reco_params, metr_params`` and arrays
``arr_0 .. arr_N`` in Lasagne's ``get_all_param_values`` order (batch-norm
running statistics included). The authors' release writes prefix ``-1``
for its final model; crossnet uses the same. Each file is written to a
temporary file in the same folder and renamed.

A run folder (``crossnet train --out RUN``) holds ``config.json``,
``log.jsonl``, ``model/`` (written when training ends: the chosen network
with population batch-norm statistics, what evaluation uses), ``best/``
(the best checkpoint on the validation frames so far, when the run has
some) and ``checkpoint/``: a checkpoint folder plus
``trainer_state.npz`` (optimiser state) and ``trainer_state.json`` (where
the run is). :func:`save_run_checkpoint` writes ``checkpoint.tmp/`` and
swaps it in with renames (the previous one is ``checkpoint.old/`` for a
moment), so a crash never leaves a half-written checkpoint.
:func:`resolve_weights` turns either kind of folder into a checkpoint
folder (a run's ``model/`` when it has one); every command that takes
``--weights`` uses it.
"""
import json
import os
import shutil
import zipfile

import numpy as np

from . import nn
from .fileio import atomic_write, atomic_write_json
from .networks.crossing_net import PART_FILES

__all__ = ["part_path", "save_part", "load_part", "save_checkpoint",
           "load_checkpoint", "atomic_savez", "atomic_savez_dict",
           "CheckpointError", "resolve_weights", "run_checkpoint_dir",
           "run_has_checkpoint", "save_run_checkpoint", "load_run_checkpoint",
           "read_run_config", "read_trainer_state", "save_checkpoint_folder",
           "RUN_CONFIG", "RUN_LOG", "RUN_MODEL", "RUN_BEST"]

DEFAULT_PREFIX = "-1"
RUN_CONFIG = "config.json"           # files of a run folder
RUN_LOG = "log.jsonl"
RUN_CHECKPOINT = "checkpoint"
RUN_MODEL = "model"
RUN_BEST = "best"
TRAINER_STATE_JSON = "trainer_state.json"
TRAINER_STATE_NPZ = "trainer_state.npz"


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable or does not fit the network."""


def part_path(directory, part, prefix=DEFAULT_PREFIX):
    return os.path.join(directory, "%s_%s.npz" % (prefix, PART_FILES[part]))


def atomic_savez(path, arrays):
    """``np.savez(path, *arrays)`` (arr_0, arr_1, ...) through a temp file +
    rename."""
    atomic_savez_dict(path, {"arr_%d" % i: a for i, a in enumerate(arrays)})


def atomic_savez_dict(path, arrays):
    """``np.savez(path, **arrays)`` through a temp file + rename."""
    atomic_write(path, lambda fh: np.savez(fh, **arrays))


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
    """Set one part's parameters from its file; checks count, shapes and
    values (naming file, array and layer) before setting anything."""
    path = part_path(directory, part, prefix)
    arrays = read_npz_arrays(path)
    try:
        nn.set_param_values(net.part_params(part), arrays, path,
                            net.part_layers(part)[0])
    except ValueError as exc:
        raise CheckpointError("%s (the %s of a %s network; wrong dataset or "
                              "image size?)" % (exc, part, net.config.dataset))
    return path


def save_checkpoint(net, directory, prefix=DEFAULT_PREFIX, parts=None):
    """Write every part (or ``parts``); returns the file paths."""
    return [save_part(net, part, directory, prefix)
            for part in (parts or PART_FILES)]


def load_checkpoint(net, directory, prefix=DEFAULT_PREFIX, parts=None):
    """Load every part (or ``parts``) from ``directory``.

    Parts are loaded one after the other, each checked before it is set; if
    any part fails, the parts already loaded are restored, so a bad file
    leaves the network as it was.
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


# -- run folders ------------------------------------------------------------
def run_checkpoint_dir(run_dir):
    """The checkpoint folder of a run (``checkpoint/``, or ``checkpoint.old/``
    when a crash fell between the two renames of a save)."""
    folder = os.path.join(run_dir, RUN_CHECKPOINT)
    if not os.path.isdir(folder) and os.path.isdir(folder + ".old"):
        return folder + ".old"
    return folder


def run_has_checkpoint(run_dir):
    """True when ``run_dir`` holds a run with a checkpoint to resume."""
    return os.path.isfile(os.path.join(run_checkpoint_dir(run_dir),
                                       TRAINER_STATE_JSON))


def read_run_config(run_dir):
    """The ``config.json`` of a run folder (dataset, data, schedule, ...)."""
    path = os.path.join(run_dir, RUN_CONFIG)
    try:
        with open(path) as fh:
            return json.load(fh)
    except OSError as exc:
        raise CheckpointError("%s: not a run folder (%s)" % (run_dir, exc))
    except ValueError as exc:
        raise CheckpointError("%s: not valid JSON (%s)" % (path, exc))


def resolve_weights(path):
    """A run folder or a checkpoint folder -> the checkpoint folder."""
    if not os.path.isdir(path):
        raise CheckpointError("%s: weights folder not found (give a run "
                              "folder or a checkpoint folder)" % path)
    if os.path.isfile(part_path(path, "encoder")):
        return path
    if os.path.isfile(os.path.join(path, RUN_CONFIG)) or \
            os.path.isdir(os.path.join(path, RUN_CHECKPOINT)):
        model = os.path.join(path, RUN_MODEL)
        if os.path.isfile(part_path(model, "encoder")):
            return model
        folder = run_checkpoint_dir(path)
        if not os.path.isdir(folder):
            raise CheckpointError("%s: a run folder without a checkpoint yet"
                                  % path)
        return folder
    raise CheckpointError("%s: neither a checkpoint folder (%s) nor a run "
                          "folder (%s, %s/)" % (path, os.path.basename(
                              part_path(path, "encoder")), RUN_CONFIG,
                              RUN_CHECKPOINT))


def save_run_checkpoint(run_dir, net, optimizer_arrays, trainer_state):
    """Write the network, ``optimizer_arrays`` (name -> array) and
    ``trainer_state`` (JSON-able) as the run's checkpoint, atomically."""
    def extra(tmp):
        atomic_savez_dict(os.path.join(tmp, TRAINER_STATE_NPZ),
                          optimizer_arrays)
        atomic_write_json(os.path.join(tmp, TRAINER_STATE_JSON), trainer_state)
    return save_checkpoint_folder(net, os.path.join(run_dir, RUN_CHECKPOINT),
                                  extra)


def save_checkpoint_folder(net, final, extra=None):
    """Write ``net`` as the checkpoint folder ``final``, atomically:
    ``final.tmp/`` is written (plus whatever ``extra(tmp)`` adds), then
    swapped in by renames (``final.old/`` exists for a moment)."""
    tmp, old = final + ".tmp", final + ".old"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    save_checkpoint(net, tmp)
    if extra is not None:
        extra(tmp)
    if os.path.exists(old):
        shutil.rmtree(old)
    if os.path.exists(final):
        os.rename(final, old)
    os.rename(tmp, final)
    if os.path.exists(old):
        shutil.rmtree(old)
    return final


def read_trainer_state(run_dir):
    """The trainer state (JSON) of the run's checkpoint; a CheckpointError
    naming the file if there is none or it is unreadable."""
    folder = run_checkpoint_dir(run_dir)
    state_json = os.path.join(folder, TRAINER_STATE_JSON)
    if not os.path.isfile(state_json):
        raise CheckpointError("%s: no checkpoint to resume from" % folder)
    try:
        with open(state_json) as fh:
            return json.load(fh)
    except (ValueError, OSError) as exc:
        raise CheckpointError("%s: not a readable trainer state (%s)"
                              % (state_json, exc))


def load_run_checkpoint(run_dir, net):
    """Load the run's checkpoint into ``net``; returns (trainer state dict,
    optimizer arrays dict). Every problem is a CheckpointError naming the
    file."""
    folder = run_checkpoint_dir(run_dir)
    state = read_trainer_state(run_dir)
    state_npz = os.path.join(folder, TRAINER_STATE_NPZ)
    try:
        with np.load(state_npz, allow_pickle=False) as z:
            optimizer = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise CheckpointError("%s: not a readable .npz file (%s)"
                              % (state_npz, exc))
    load_checkpoint(net, folder)
    return state, optimizer
