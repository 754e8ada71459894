"""Run management: schedule, checkpoints, resume, logs, progress, Ctrl-C.

A run folder holds

* ``config.json``: everything needed to reproduce the run;
* ``log.jsonl``: one JSON object per epoch (stage, epoch, mean of every loss
  term, seconds, frames per second);
* ``checkpoint/``: the networks in the authors' ``.npz`` layout plus the
  optimiser and trainer state (:mod:`crossnet.checkpoint` writes and reads
  it, atomically).

Every random draw is a function of (seed, stage, epoch, batch), so resuming
from a checkpoint gives exactly the parameters of an uninterrupted run.

Ctrl-C (SIGINT) and SIGTERM (what batch schedulers send before killing a
job) are deferred while an update runs: the update finishes (a GAN batch
is a D step *and* a G step), the checkpoint is saved at that consistent
point, then :class:`TrainingInterrupted` is raised. A second signal aborts
at once without saving (the last checkpoint stays). The run folder is
locked (``RUN.lock``) while a Trainer holds it: a second training into the
same folder fails at once.
"""
import contextlib
import json
import math
import os
import signal
import threading
import time

import numpy as np

from .. import checkpoint as ckpt
from ..data.cache import CacheDataset
from ..data.common import DataError
from ..fileio import atomic_write_json, exclusive_lock
from ..networks import CrossingNet
from ..networks.pose_vae import initialise_from_pca
from . import stages as stages_mod
from .schedules import STAGE_SETS, schedule as named_schedule

__all__ = ["Trainer", "TrainingError", "TrainingInterrupted",
           "AbortedWithoutSaving", "make_config",
           "TrainingData", "read_log"]

BUILDERS = {"vae": stages_mod.vae_stage, "gan": stages_mod.gan_stage,
            "align": stages_mod.align_stage, "cross": stages_mod.cross_stage,
            "supervised": stages_mod.supervised_stage}


class TrainingError(RuntimeError):
    """Training cannot go on (NaN loss, bad checkpoint, mismatched data)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM: a checkpoint was saved; ``--resume`` continues.
    ``signum`` is the signal that asked for the stop."""

    def __init__(self, message, signum=signal.SIGINT):
        super().__init__(message)
        self.signum = signum


class AbortedWithoutSaving(KeyboardInterrupt):
    """A second Ctrl-C / SIGTERM while the first was being honoured: stopped
    at once, possibly mid-update; the previous checkpoint is kept."""


def make_config(dataset, data, stages=None, quick=False, seed=0,
                labelled_fraction=1.0, epochs=None, batch_size=None,
                checkpoint_every=1, max_batches_per_epoch=None,
                generator_loss="feature_matching", test_data=None):
    """The run configuration (a JSON-able dict) with paper defaults."""
    if not 0 < labelled_fraction <= 1:
        raise ValueError("labelled fraction must be in (0, 1], got %r"
                         % labelled_fraction)
    stages = list(stages or STAGE_SETS["crossing_nets"])
    for s in stages:
        if s not in BUILDERS:
            raise ValueError("unknown stage %r (%s)" % (s, ", ".join(BUILDERS)))
    schedule = named_schedule("quick" if quick else "paper")
    for s in schedule:
        if epochs is not None:
            schedule[s]["epochs"] = int(epochs)
        if batch_size is not None:
            schedule[s]["batch_size"] = int(batch_size)
    schedule["gan"]["generator_loss"] = generator_loss
    return {"dataset": dataset, "data": os.path.abspath(data),
            "test_data": test_data and os.path.abspath(test_data),
            "stages": stages, "seed": int(seed),
            "labelled_fraction": float(labelled_fraction),
            "schedule": {s: schedule[s] for s in stages},
            "checkpoint_every": int(checkpoint_every),
            "max_batches_per_epoch": max_batches_per_epoch, "quick": quick}


class TrainingData(object):
    """Training frames of a cache file, split into labelled and unlabelled.

    The labelled frames are a seeded random ``labelled_fraction`` of all;
    labels of the others are never read. Arrays are held in memory when
    smaller than ``memory_limit_bytes``, else read per batch from the file.
    """

    def __init__(self, path, dataset, labelled_fraction=1.0, seed=0,
                 memory_limit_bytes=4 << 30):
        self.cache = CacheDataset(path)
        p = self.cache.params
        if p.dataset != dataset:
            self.cache.close()
            raise DataError("%s: a %s cache, the run is for %s"
                            % (path, p.dataset, dataset))
        self.params = p
        n = len(self.cache)
        perm = np.random.RandomState(seed).permutation(n)
        n_lab = int(round(labelled_fraction * n))
        if n_lab < 2:
            self.cache.close()
            raise DataError("%s: labelled fraction %g of %d frames leaves %d "
                            "labelled frame(s); at least 2 are needed"
                            % (path, labelled_fraction, n, n_lab))
        self.labelled = np.sort(perm[:n_lab])
        self.all = np.arange(n)
        self.arrays = None
        if self.cache.h5["depth"].nbytes < memory_limit_bytes:
            self.arrays = {k: self.cache.h5[k][:] for k in
                           ("depth", "pose", "origin")}
        self._labelled_set = set(self.labelled.tolist())

    def read(self, indices, labels=True):
        """Batch dict; ``labels=False`` reads depth only (unlabelled use)."""
        keys = ("depth", "pose", "origin") if labels else ("depth",)
        if labels and not self._labelled_set.issuperset(indices.tolist()):
            raise RuntimeError("labels requested for unlabelled frames")
        if self.arrays is not None:
            return {k: self.arrays[k][indices] for k in keys}
        return self.cache.read(indices, keys)

    def poses(self):
        """Labelled poses (N_l, J, 3), e.g. for the PCA initialisation."""
        return self.read(self.labelled)["pose"]


class Trainer(object):
    """Runs the configured stages on one network, writing to ``run_dir``.

    ``on_batch(trainer, stage_name, epoch, batch)``, if given, is called after
    every update, once the trainer's state counts it (a seam for tests and
    progress hooks).
    """

    def __init__(self, config, run_dir, resume=False, progress=True, log=print,
                 on_batch=None):
        self.run_dir = run_dir
        self.progress = progress
        self.log = log
        self.on_batch = on_batch
        self._stop_signal = None
        self._exit = contextlib.ExitStack()
        self._exit.enter_context(exclusive_lock(
            os.path.abspath(run_dir).rstrip("/"), "the run folder %s" % run_dir))
        try:
            self._open(config, run_dir, resume)
        except BaseException:
            self.close()
            raise

    def _open(self, config, run_dir, resume):
        cfg_path = os.path.join(run_dir, ckpt.RUN_CONFIG)
        if resume:
            if not os.path.isfile(cfg_path):
                raise TrainingError("%s: no config.json, nothing to resume"
                                    % run_dir)
            try:
                saved = ckpt.read_run_config(run_dir)
            except ckpt.CheckpointError as exc:
                raise TrainingError(str(exc))
            if config is not None and _comparable(config) != _comparable(saved):
                raise TrainingError(
                    "%s: --resume with other settings than the run's "
                    "config.json (%s); use the same arguments or a new --out"
                    % (run_dir, _diff(_comparable(saved), _comparable(config))))
            self.config = saved
        else:
            if ckpt.run_has_checkpoint(run_dir):
                raise TrainingError("%s already holds a run; pass --resume to "
                                    "continue it or choose another --out"
                                    % run_dir)
            self.config = config
        c = self.config
        self.data = TrainingData(c["data"], c["dataset"], c["labelled_fraction"],
                                 c["seed"])
        self._exit.callback(self.data.cache.close)
        self.net = CrossingNet(c["dataset"], self.data.params.size, seed=c["seed"])
        if self.net.config.num_joints != self.data.cache.num_joints:
            raise DataError("%s: %d joints per frame, %s networks use %d"
                            % (c["data"], self.data.cache.num_joints,
                               c["dataset"], self.net.config.num_joints))
        self.state = {"finished": [], "stage": None, "epoch": 0, "batch": 0,
                      "updates": {}}
        self._saved_optimizer = {}
        self._stage_objs = {}
        if resume:
            try:
                self.state, self._saved_optimizer = ckpt.load_run_checkpoint(
                    run_dir, self.net)
            except ckpt.CheckpointError as exc:
                raise TrainingError("%s; nothing was overwritten" % exc)
        else:
            os.makedirs(run_dir, exist_ok=True)
            atomic_write_json(cfg_path, c)

    def close(self):
        """Release the run folder's lock and close the training cache (the
        network stays usable)."""
        self._exit.close()

    def __del__(self):
        exit_stack = getattr(self, "_exit", None)
        if exit_stack is not None:
            exit_stack.close()

    @property
    def ckpt_dir(self):
        return os.path.join(self.run_dir, ckpt.RUN_CHECKPOINT)

    def save_checkpoint(self):
        """Network, optimiser state of the current stage and trainer state."""
        opt = {}
        for name, stage in self._stage_objs.items():
            for i, v in enumerate(stage.state_values()):
                opt["%s/%d" % (name, i)] = v
        ckpt.save_run_checkpoint(self.run_dir, self.net, opt, self.state)

    # -- training ---------------------------------------------------------
    def _build(self, name):
        sched = self.config["schedule"][name]
        kwargs = {"lr": sched["lr"]}
        if name == "gan":
            kwargs["generator_loss"] = sched.get("generator_loss",
                                                 "feature_matching")
        if name == "vae" and self.state["updates"].get("vae", 0) == 0 \
                and self.state["stage"] != "vae":
            poses = self.data.poses().reshape(len(self.data.labelled), -1)
            initialise_from_pca(self.net.encoder, self.net.decoder, poses)
        start = time.perf_counter()
        stage = BUILDERS[name](self.net, **kwargs)
        self.log("compiled stage %s in %.1f s" % (name, time.perf_counter() - start))
        saved = self._saved_optimizer
        keys = sorted((k for k in saved if k.startswith(name + "/")),
                      key=lambda k: int(k.split("/")[1]))
        if keys:
            stage.set_state_values([saved[k] for k in keys])
        self._stage_objs = {name: stage}
        return stage

    def _epoch_plan(self, stage, epoch, stage_index):
        """Frame indices of every batch of one epoch (deterministic): a list
        of index arrays, and for a 'both' stage a second list of depth-only
        batches drawn from all frames (else None)."""
        c = self.config
        bs = c["schedule"][stage.name]["batch_size"]
        seed = c["seed"]
        source = stage.batch_source
        pool = self.data.all if source == "all" else self.data.labelled
        if len(pool) < 2:
            raise TrainingError("stage %s needs at least 2 frames, %d available"
                                % (stage.name, len(pool)))
        bs = min(bs, len(pool))
        perm = np.random.RandomState([seed, stage_index, epoch, 0]).permutation(pool)
        n = len(pool) // bs
        if c.get("max_batches_per_epoch"):
            n = min(n, int(c["max_batches_per_epoch"]))
        plan = [perm[b * bs:(b + 1) * bs] for b in range(n)]
        if source != "both":
            return plan, None
        real = np.random.RandomState([seed, stage_index, epoch, 1]).permutation(
            self.data.all)
        reps = int(math.ceil(n * bs / len(real)))
        real = np.concatenate([real] * max(reps, 1))
        return plan, [real[b * bs:(b + 1) * bs] for b in range(n)]

    def _read_batch(self, stage, indices, real_indices):
        """The batch dict a stage's ``make_inputs`` takes."""
        if stage.batch_source == "all":
            return self.data.read(np.sort(indices), labels=False)
        lab = self.data.read(indices)
        if stage.batch_source == "both":
            return {"labelled": lab,
                    "real": self.data.read(real_indices, labels=False)}
        return lab

    def run(self):
        """Train every unfinished stage; returns the median frames/s of each
        stage trained now."""
        throughput = {}
        with self._deferred_signals():
            for stage_index, name in enumerate(self.config["stages"]):
                if name in self.state["finished"]:
                    continue
                throughput[name] = self.run_stage(stage_index, name)
        return {k: float(np.median(v)) for k, v in throughput.items() if v}

    @contextlib.contextmanager
    def _deferred_signals(self):
        """SIGINT / SIGTERM set a flag that :meth:`_stop_if_asked` acts on
        between updates; a second one aborts at once. Only the main thread
        can install handlers; elsewhere signals behave as usual."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):
            if self._stop_signal is not None:
                raise AbortedWithoutSaving(
                    "second %s: aborted without saving; the last checkpoint "
                    "in %s is kept" % (signal.Signals(signum).name,
                                       self.ckpt_dir))
            self._stop_signal = signum
            self.log("crossnet: %s received; stopping after this update "
                     "(again to abort without saving)"
                     % signal.Signals(signum).name)
        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def _stop_if_asked(self, name, epoch, batch):
        """At a consistent point: save and stop if a signal asked for it."""
        signum = self._stop_signal
        if signum is None:
            return
        self._stop_signal = None
        self.save_checkpoint()
        raise TrainingInterrupted(
            "interrupted (%s) in stage %s, epoch %d, batch %d; checkpoint "
            "saved in %s (resume with --resume)"
            % (signal.Signals(signum).name, name, epoch, batch, self.ckpt_dir),
            signum)

    def run_stage(self, stage_index, name):
        """Train one stage from where the state says; [frames/s per epoch]."""
        c = self.config
        sched = c["schedule"][name]
        stage = self._build(name)
        if self.state["stage"] != name:
            self.state.update(stage=name, epoch=0, batch=0)
        throughput = []
        for epoch in range(self.state["epoch"], sched["epochs"]):
            entry = self.run_epoch(stage, stage_index, epoch)
            self._log_epoch(entry)
            throughput.append(entry["frames_per_s"])
            self.state.update(epoch=epoch + 1, batch=0)
            last = epoch + 1 == sched["epochs"]
            if last:
                self.state["finished"].append(name)
            if last or (epoch + 1) % c["checkpoint_every"] == 0:
                self.save_checkpoint()
            self._stop_if_asked(name, epoch + 1, 0)
        if name not in self.state["finished"]:   # zero epochs
            self.state["finished"].append(name)
            self.save_checkpoint()
        return throughput

    def run_epoch(self, stage, stage_index, epoch):
        """The remaining batches of one epoch; returns its log entry. Ctrl-C
        saves a checkpoint and raises :class:`TrainingInterrupted`."""
        from tqdm import tqdm
        c = self.config
        name = stage.name
        sched = c["schedule"][name]
        plan, real = self._epoch_plan(stage, epoch, stage_index)
        sums, count, frames = {}, 0, 0
        start = time.perf_counter()
        bar = tqdm(total=len(plan), initial=self.state["batch"],
                   disable=None if self.progress else True, leave=False,
                   desc="%s %d/%d" % (name, epoch + 1, sched["epochs"]))
        b = self.state["batch"]
        try:
            while b < len(plan):
                self._set_lr(stage, sched)
                rng = np.random.RandomState([c["seed"], stage_index, epoch, b, 2])
                batch = self._read_batch(stage, plan[b],
                                         None if real is None else real[b])
                losses = stage.step(stage.make_inputs(batch, rng))
                bad = [k for k, v in losses.items() if not np.isfinite(v)]
                if bad:
                    raise TrainingError(
                        "stage %s, epoch %d, batch %d: loss term %s went "
                        "NaN/inf; the last good checkpoint is kept in %s"
                        % (name, epoch, b, ", ".join(bad), self.ckpt_dir))
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v
                count += 1
                frames += len(plan[b])
                b += 1
                self.state["updates"][name] = self.state["updates"].get(name, 0) + 1
                self.state["batch"] = b
                bar.set_postfix({k: "%.4g" % (v / count)
                                 for k, v in list(sums.items())[:4]})
                bar.update(1)
                if self.on_batch is not None:
                    self.on_batch(self, name, epoch, b - 1)
                self._stop_if_asked(name, epoch, b)
        except (TrainingInterrupted, AbortedWithoutSaving):
            bar.close()
            raise
        except KeyboardInterrupt:
            # raised outside the deferred-signal handler (not the main
            # thread, or by a hook between updates): the state counts every
            # update applied so far, so saving here is consistent too
            bar.close()
            self.save_checkpoint()
            raise TrainingInterrupted(
                "interrupted in stage %s, epoch %d, batch %d; checkpoint "
                "saved in %s (resume with --resume)"
                % (name, epoch, b, self.ckpt_dir))
        bar.close()
        seconds = time.perf_counter() - start
        return {"stage": name, "epoch": epoch,
                "losses": {k: v / max(count, 1) for k, v in sums.items()},
                "batches": count, "seconds": round(seconds, 3),
                "frames_per_s": round(frames / max(seconds, 1e-9), 2),
                "lr": float(stage.lr.get_value())}

    def _set_lr(self, stage, sched):
        lr = sched["lr"]
        if "lr_decay" in sched:
            lr *= sched["lr_decay"] ** (self.state["updates"].get(stage.name, 0)
                                        // sched["decay_every"])
        stage.lr.set_value(np.float32(lr))

    def _log_epoch(self, entry):
        with open(os.path.join(self.run_dir, ckpt.RUN_LOG), "a") as fh:
            fh.write(json.dumps(entry) + "\n")
        if not self.progress:
            return
        terms = " ".join("%s %.4g" % kv for kv in entry["losses"].items())
        self.log("%s epoch %d: %s (%.0f frames/s)" % (
            entry["stage"], entry["epoch"] + 1, terms, entry["frames_per_s"]))


def _comparable(config):
    """The settings that must match to resume (not the evaluation-only ones)."""
    return {k: v for k, v in config.items() if k not in ("quick", "test_data")}


def _diff(a, b):
    keys = sorted(set(a) | set(b))
    return ", ".join("%s: %r vs %r" % (k, a.get(k), b.get(k))
                     for k in keys if a.get(k) != b.get(k))


def read_log(run_dir):
    """Entries of ``log.jsonl``."""
    path = os.path.join(run_dir, ckpt.RUN_LOG)
    if not os.path.isfile(path):
        return []
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]
