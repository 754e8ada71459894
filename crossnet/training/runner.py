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
from .. import nn
from ..conventions import UNIT_MM
from ..data.cache import CacheDataset
from ..data.common import DataError
from ..evaluation.metrics import joint_errors
from ..fileio import atomic_write_json, exclusive_lock
from ..networks import CrossingNet
from ..networks.pose_vae import initialise_from_pca
from . import stages as stages_mod
from .schedules import STAGE_SETS, schedule as named_schedule

__all__ = ["Trainer", "TrainingError", "TrainingInterrupted",
           "AbortedWithoutSaving", "make_config",
           "TrainingData", "learning_rate", "read_log", "total_updates"]

# frames whose depth maps (and, for Ali and the generator, pose latents)
# give the population batch-norm statistics: a fixed seeded subset of the
# training frames. 2,000 64x64 frames give a 32x32 layer two million pixels
# per channel; each pass costs a forward pass over them per batch-norm level
# (six for the discriminator and its heads, five for the generator).
RECALIBRATION_FRAMES = {"validation": 500, "final": 2000}

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
                generator_loss="feature_matching", test_data=None,
                validation_fraction=0.0, validate_every=100,
                unlabelled_depth=True, init_from=None, unlabelled_frames=None):
    """The run configuration (a JSON-able dict) with paper defaults.

    ``validation_fraction`` of the training frames (drawn first, the same
    for every labelled fraction of a seed) are held out with their labels
    to choose the checkpoint: every ``validate_every`` updates of a stage
    that trains the posterior head, and at its end. ``unlabelled_depth``:
    whether the GAN terms may use the depth maps of unlabelled frames
    (False: labelled frames only); ``unlabelled_frames``: at most this
    many of them (the first of the seeded permutation; None: all), to vary
    the unlabelled pool at fixed labelled frames. ``init_from``: {"run":
    run folder, "parts": [...]} loads those parts from another run's checkpoint
    before training (e.g. a shared GAN pretraining), or a list of such
    sources; a source's optional "stages" are stages of this run that it
    already trained with this run's schedule and labelled frames (e.g. the
    pose VAE shared by the arms of one labelled fraction): they count as
    finished here.
    """
    if not 0 < labelled_fraction <= 1:
        raise ValueError("labelled fraction must be in (0, 1], got %r"
                         % labelled_fraction)
    if not 0 <= validation_fraction < 1:
        raise ValueError("validation fraction must be in [0, 1), got %r"
                         % validation_fraction)
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
    config = {"dataset": dataset, "data": os.path.abspath(data),
              "test_data": test_data and os.path.abspath(test_data),
              "stages": stages, "seed": int(seed),
              "labelled_fraction": float(labelled_fraction),
              "schedule": {s: schedule[s] for s in stages},
              "checkpoint_every": int(checkpoint_every),
              "max_batches_per_epoch": max_batches_per_epoch, "quick": quick,
              "validation_fraction": float(validation_fraction),
              "validate_every": int(validate_every),
              "unlabelled_depth": bool(unlabelled_depth),
              "init_from": init_sources(init_from) or None}
    if unlabelled_frames is not None:     # absent otherwise: older runs resume
        if int(unlabelled_frames) < 0:
            raise ValueError("unlabelled frames must be >= 0, got %r"
                             % unlabelled_frames)
        config["unlabelled_frames"] = int(unlabelled_frames)
    return config


def init_sources(init_from):
    """``init_from`` of a config as a list of {"run", "parts", "stages"}
    (absolute run folders; a single source may be given as a dict)."""
    if not init_from:
        return []
    if isinstance(init_from, dict):
        init_from = [init_from]
    return [{"run": os.path.abspath(src["run"]), "parts": list(src["parts"]),
             "stages": list(src.get("stages", []))} for src in init_from]


class TrainingData(object):
    """Training frames of a cache file: validation, labelled, unlabelled.

    A seeded permutation of the frames puts ``validation_fraction`` of them
    (at its end) aside with their labels, for choosing checkpoints only;
    ``labelled_fraction`` of the rest (at its start) are the labelled
    frames. ``all`` are the training frames (every frame but the
    validation ones); ``depth_pool`` the frames whose depth maps the GAN
    terms may use (``all``, or ``labelled`` without ``unlabelled_depth``;
    with ``unlabelled_frames`` k, the labelled frames and the next k of the
    permutation).
    Labels of unlabelled frames are never read: :meth:`read` refuses them.
    Arrays are held in memory when smaller than ``memory_limit_bytes``,
    else read per batch from the file.
    """

    def __init__(self, path, dataset, labelled_fraction=1.0, seed=0,
                 memory_limit_bytes=4 << 30, validation_fraction=0.0,
                 unlabelled_depth=True, unlabelled_frames=None):
        self.cache = CacheDataset(path)
        p = self.cache.params
        if p.dataset != dataset:
            self.cache.close()
            raise DataError("%s: a %s cache, the run is for %s"
                            % (path, p.dataset, dataset))
        self.params = p
        n = len(self.cache)
        perm = np.random.RandomState(seed).permutation(n)
        n_val = int(round(validation_fraction * n))
        n_train = n - n_val
        n_lab = int(round(labelled_fraction * n_train))
        if n_lab < 2 or (n_val and n_val < 2):
            self.cache.close()
            raise DataError("%s: labelled fraction %g of %d training frames "
                            "leaves %d labelled frame(s) (and %d validation "
                            "frames); at least 2 of each are needed"
                            % (path, labelled_fraction, n_train, n_lab, n_val))
        self.labelled = np.sort(perm[:n_lab])
        self.all = np.sort(perm[:n_train])
        self.validation = np.sort(perm[n_train:])
        self.depth_pool = self.all if unlabelled_depth else self.labelled
        if unlabelled_depth and unlabelled_frames is not None:
            if not 0 <= unlabelled_frames <= n_train - n_lab:
                self.cache.close()
                raise DataError("%s: %s unlabelled frames asked for, the "
                                "split has %d (%d training frames, %d "
                                "labelled)" % (path, unlabelled_frames,
                                               n_train - n_lab, n_train, n_lab))
            self.depth_pool = np.sort(perm[:n_lab + unlabelled_frames])
        self.arrays = None
        if self.cache.h5["depth"].nbytes < memory_limit_bytes:
            self.arrays = {k: self.cache.read_whole(k) for k in
                           ("depth", "pose", "origin")}
        self._labelled_set = set(self.labelled.tolist())
        self._validation_set = set(self.validation.tolist())

    def read(self, indices, labels=True, depth=True):
        """Batch dict; ``labels=False`` reads depth only (unlabelled use),
        ``depth=False`` labels only. Validation frames are never training
        data."""
        if not (labels or depth):
            raise ValueError("read needs labels, depth or both")
        keys = (("depth",) if depth else ()) + (("pose", "origin") if labels
                                                 else ())
        if labels and not self._labelled_set.issuperset(indices.tolist()):
            raise RuntimeError("labels requested for unlabelled frames")
        if not self._validation_set.isdisjoint(indices.tolist()):
            raise RuntimeError("validation frames requested for training")
        return self._read(indices, keys)

    def _read(self, indices, keys):
        if self.arrays is not None:
            return {k: self.arrays[k][indices] for k in keys}
        return self.cache.read(indices, keys)

    def read_validation(self):
        """Depth, pose and origin of the validation frames (None if none)."""
        if not len(self.validation):
            return None
        return self._read(self.validation, ("depth", "pose", "origin"))

    def poses(self):
        """Labelled poses (N_l, J, 3), e.g. for the PCA initialisation."""
        return self.read(self.labelled)["pose"]



def learning_rate(sched, updates):
    """A stage's learning rate before its update number ``updates`` (0 for
    the first): ``lr_steps`` [[first update, lr], ...] if given, else
    ``lr`` times ``lr_decay`` every ``decay_every`` updates (if given),
    else ``lr``."""
    if "lr_steps" in sched:
        lr = None
        for first, value in sorted(sched["lr_steps"]):
            if first <= updates:
                lr = value
        if lr is None:
            raise ValueError("lr_steps %r has no step at or before update %d"
                             % (sched["lr_steps"], updates))
        return float(lr)
    lr = sched["lr"]
    if "lr_decay" in sched:
        lr *= sched["lr_decay"] ** (updates // sched["decay_every"])
    return lr

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
        self.data = TrainingData(
            c["data"], c["dataset"], c["labelled_fraction"], c["seed"],
            validation_fraction=c.get("validation_fraction", 0.0),
            unlabelled_depth=c.get("unlabelled_depth", True),
            unlabelled_frames=c.get("unlabelled_frames"))
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
            for source in init_sources(c.get("init_from")):
                self._init_from(source)
            os.makedirs(run_dir, exist_ok=True)
            atomic_write_json(cfg_path, c)

    def _init_from(self, source):
        """Load parts of another run's checkpoint; its update counts go to
        ``state['inherited_updates']`` (they count in the run's budget), and
        the source's ``stages`` are finished here."""
        try:
            other = ckpt.read_run_config(source["run"])
            other_state = ckpt.read_trainer_state(source["run"])
            ckpt.load_checkpoint(self.net, ckpt.run_checkpoint_dir(
                source["run"]), parts=source["parts"])
        except ckpt.CheckpointError as exc:
            raise TrainingError("init_from %s: %s" % (source["run"], exc))
        c = self.config
        keys = [("data", None), ("seed", None), ("validation_fraction", 0.0)]
        if source["stages"]:      # trained on this run's labelled frames
            keys.append(("labelled_fraction", 1.0))
        for key, default in keys:
            if other.get(key, default) != c.get(key, default):
                raise TrainingError(
                    "init_from %s: its %s is %r, this run's %r (the frames "
                    "it trained on must be this run's)" % (
                        source["run"], key, other.get(key, default),
                        c.get(key, default)))
        unfinished = [s for s in other["stages"]
                      if s not in other_state["finished"]]
        if unfinished:
            raise TrainingError("init_from %s: stage(s) %s not finished"
                                % (source["run"], ", ".join(unfinished)))
        for stage in source["stages"]:
            if stage not in c["stages"] or stage not in other["stages"]:
                raise TrainingError(
                    "init_from %s: stage %s is not a stage of both runs"
                    % (source["run"], stage))
            if other["schedule"][stage] != c["schedule"][stage]:
                raise TrainingError(
                    "init_from %s: its %s schedule is %r, this run's %r"
                    % (source["run"], stage, other["schedule"][stage],
                       c["schedule"][stage]))
            self.state["finished"].append(stage)
        inherited = self.state.setdefault("inherited_updates", {})
        for stage, n in total_updates(other_state).items():
            inherited[stage] = inherited.get(stage, 0) + n

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
        if name in stages_mod.POSTERIOR_STAGES:
            kwargs["latent"] = sched.get("latent", "sample")
        if name == "cross":
            kwargs["adversarial"] = sched.get("adversarial", True)
            kwargs["feature_matching_weight"] = sched.get(
                "feature_matching_weight", stages_mod.FEATURE_MATCHING_WEIGHT)
        if name == "align" and sched.get("generator_lr") is not None:
            kwargs["generator_lr"] = sched["generator_lr"]
        if name in ("align", "cross"):
            kwargs["recons_clip"] = sched.get("recons_clip",
                                              stages_mod.RECONS_CLIP)
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
        pool = self.data.depth_pool if source == "all" else self.data.labelled
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
            self.data.depth_pool)
        reps = int(math.ceil(n * bs / len(real)))
        real = np.concatenate([real] * max(reps, 1))
        return plan, [real[b * bs:(b + 1) * bs] for b in range(n)]

    def _read_batch(self, stage, indices, real_indices):
        """The batch dict a stage's ``make_inputs`` takes."""
        if stage.batch_source == "all":
            return self.data.read(np.sort(indices), labels=False)
        if stage.batch_source == "poses":
            return self.data.read(indices, depth=False)
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
        self.finalise()
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
        """Train one stage from where the state says; [frames/s per epoch].

        The stage runs ``updates`` updates when its schedule gives them
        (epochs over its frame pool, the last one cut short), else
        ``epochs`` full epochs.
        """
        c = self.config
        stage = self._build(name)
        if self.state["stage"] != name:
            self.state.update(stage=name, epoch=0, batch=0)
        throughput = []
        while not self._stage_done(name, self.state["epoch"]):
            epoch = self.state["epoch"]
            entry = self.run_epoch(stage, stage_index, epoch)
            self._log_epoch(entry)
            throughput.append(entry["frames_per_s"])
            self.state.update(epoch=epoch + 1, batch=0)
            last = self._stage_done(name, epoch + 1)
            if last:
                self._validate_if_due(name, end_of_stage=True)
                self.state["finished"].append(name)
            if last or (epoch + 1) % c["checkpoint_every"] == 0:
                self.save_checkpoint()
            self._stop_if_asked(name, epoch + 1, 0)
        if name not in self.state["finished"]:   # zero epochs
            self.state["finished"].append(name)
            self.save_checkpoint()
        return throughput

    # -- validation, population statistics, the final model --------------
    def _validate_if_due(self, name, end_of_stage=False):
        """Validate every ``validate_every`` updates of a stage that trains
        the posterior head, and at its end (once per update count)."""
        c = self.config
        if name not in stages_mod.POSTERIOR_STAGES \
                or not len(self.data.validation):
            return
        done = self.state["updates"].get(name, 0)
        sched = c["schedule"][name]
        end_of_stage = end_of_stage or done == sched.get("updates")
        if not (end_of_stage or done % c["validate_every"] == 0):
            return
        history = self.state.setdefault("validation", [])
        if history and history[-1]["stage"] == name \
                and history[-1]["updates"] == done:
            return
        running = self._running_averages()
        saved = [p.get_value() for p in running]
        error = self.validate()
        entry = {"stage": name, "updates": done,
                 "mean_error_mm": round(float(error), 4)}
        history.append(entry)
        best = self.state.get("best")
        if best is None or error < best["mean_error_mm"]:
            self.state["best"] = entry     # saved as evaluated
            ckpt.save_checkpoint_folder(
                self.net, os.path.join(self.run_dir, ckpt.RUN_BEST))
        for p, v in zip(running, saved):   # training goes on unchanged
            p.set_value(v)
        if self.progress:
            self.log("validation after %s update %d: %.2f mm (best %.2f mm)"
                     % (name, done, error, self.state["best"]["mean_error_mm"]))

    def _recalibration_frames(self, limit, pool=None):
        """Up to ``limit`` frames of ``pool`` (default: the depth pool), a
        fixed seeded subset."""
        pool = self.data.depth_pool if pool is None else pool
        if len(pool) > limit:
            pool = np.sort(np.random.RandomState(
                [self.config["seed"], 99]).choice(pool, limit, replace=False))
        return pool

    def _running_averages(self):
        """Batch-norm running averages of the posterior path."""
        head = self.net.posterior_head
        trainable = set(nn.get_all_params(head, trainable=True))
        return [p for p in nn.get_all_params(head) if p not in trainable]

    def validate(self):
        """Mean joint error (mm, all joints) on the validation frames, after
        recalibrating the posterior path's batch-norm statistics on training
        frames (in place: :meth:`_validate_if_due` restores them)."""
        net = self.net
        frames = self.data.read(self._recalibration_frames(
            RECALIBRATION_FRAMES["validation"]), labels=False)["depth"]
        val = self.data.read_validation()
        net.recalibrate_batch_norm(frames, posterior_only=True)
        pred = np.concatenate([net.estimate(val["depth"][i:i + 200])
                               for i in range(0, len(val["depth"]), 200)])
        truth = (val["pose"] + val["origin"][:, None]) * UNIT_MM
        return float(joint_errors(pred, truth).mean())

    def finalise(self):
        """The model evaluation uses, written to ``model/``: the best
        validated checkpoint (else the last), with population batch-norm
        statistics of every part (a subset of the depth pool; Ali and
        generator over the mean latents of a subset of the labelled
        poses)."""
        from .stages import latent_of_batch
        if set(self.config["stages"]) <= {"vae"}:
            # the pose VAE has no batch norm: nothing to recalibrate
            ckpt.save_checkpoint_folder(
                self.net, os.path.join(self.run_dir, ckpt.RUN_MODEL))
            return
        if self.state.get("best") is not None:
            ckpt.load_checkpoint(self.net, os.path.join(self.run_dir,
                                                        ckpt.RUN_BEST))
        frames = self.data.read(self._recalibration_frames(
            RECALIBRATION_FRAMES["final"]), labels=False)["depth"]
        latents = None
        if total_updates(self.state).get("vae"):
            latents = latent_of_batch(self.net, self.data.read(
                self._recalibration_frames(RECALIBRATION_FRAMES["final"],
                                           self.data.labelled)),
                latent="mean")
        start = time.perf_counter()
        self.net.recalibrate_batch_norm(frames, latents)
        ckpt.save_checkpoint_folder(
            self.net, os.path.join(self.run_dir, ckpt.RUN_MODEL))
        if self.progress:
            self.log("population batch-norm statistics of %d frames%s in "
                     "%.1f s" % (len(frames), "" if latents is None else
                                 " and %d pose latents" % len(latents),
                                 time.perf_counter() - start))

    def _stage_done(self, name, epoch):
        sched = self.config["schedule"][name]
        if "updates" in sched:
            return self.state["updates"].get(name, 0) >= sched["updates"]
        return epoch >= sched["epochs"]

    def _epoch_label(self, name, epoch):
        sched = self.config["schedule"][name]
        if "updates" in sched:
            return "%s %d/%d updates" % (name, self.state["updates"].get(
                name, 0), sched["updates"])
        return "%s %d/%d" % (name, epoch + 1, sched["epochs"])

    def run_epoch(self, stage, stage_index, epoch):
        """The remaining batches of one epoch; returns its log entry. Ctrl-C
        saves a checkpoint and raises :class:`TrainingInterrupted`."""
        from tqdm import tqdm
        c = self.config
        name = stage.name
        sched = c["schedule"][name]
        plan, real = self._epoch_plan(stage, epoch, stage_index)
        if "updates" in sched:    # the budget ends within this epoch
            left = sched["updates"] - self.state["updates"].get(name, 0)
            plan = plan[:self.state["batch"] + left]
        sums, count, frames = {}, 0, 0
        start = time.perf_counter()
        bar = tqdm(total=len(plan), initial=self.state["batch"],
                   disable=None if self.progress else True, leave=False,
                   desc=self._epoch_label(name, epoch))
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
                self._validate_if_due(name)
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
        updates = self.state["updates"].get(stage.name, 0)
        stage.lr.set_value(np.float32(learning_rate(sched, updates)))

    def _log_epoch(self, entry):
        with open(os.path.join(self.run_dir, ckpt.RUN_LOG), "a") as fh:
            fh.write(json.dumps(entry) + "\n")
        if not self.progress:
            return
        terms = " ".join("%s %.4g" % kv for kv in entry["losses"].items())
        self.log("%s epoch %d: %s (%.0f frames/s)" % (
            entry["stage"], entry["epoch"] + 1, terms, entry["frames_per_s"]))


def total_updates(state):
    """Updates per stage of a trainer state, those inherited through
    ``init_from`` included."""
    done = dict(state.get("inherited_updates", {}))
    for k, v in state["updates"].items():
        done[k] = done.get(k, 0) + v
    return done


def _comparable(config):
    """The settings that must match to resume (not the evaluation-only ones;
    ``init_from`` as :func:`init_sources`, so older single-source configs
    still match)."""
    out = {k: v for k, v in config.items() if k not in ("quick", "test_data")}
    out["init_from"] = init_sources(out.get("init_from")) or None
    return out


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
