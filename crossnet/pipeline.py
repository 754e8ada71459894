"""Building blocks of the demo and of ``paper_experiments/``: synthetic
caches, and the arms of the experiments (train, choose the checkpoint on
validation frames, evaluate on a test cache) with budgets in updates.

Every arm that has a stage gets the same number of updates of it, whatever
its labelled fraction (epochs over a small labelled pool are simply more
numerous). The posterior head's budget is the same in every arm: the
supervised stage gets as many updates as stages 3a and 3b together (each
of their updates is one L_pos step of the posterior head).
"""
import copy
import os
from collections import OrderedDict

from .checkpoint import run_has_checkpoint
from .conventions import TEST_SEED_OFFSET
from .training.runner import (Trainer, learning_rate, make_config,
                              total_updates)
from .training.stages import POSTERIOR_STAGES
from .training.schedules import schedule as named_schedule

__all__ = ["synthetic_caches", "ARMS", "Budget", "arm_schedule",
           "crossing_head_lr_steps", "planned_updates", "train_shared_gan",
           "train_shared_vae", "run_arm"]


class Budget(object):
    """Updates and batch size per stage (``updates``: dict stage -> int for
    vae, gan, align, cross; ``batch_size``: dict stage -> int). The
    supervised stage's updates are align + cross, by construction.
    ``options``: dict stage -> stage options for every arm (e.g. ``{'gan':
    {'generator_loss': 'logd'}}``)."""

    STAGES = ("vae", "gan", "align", "cross")

    def __init__(self, updates, batch_size, options=None):
        missing = [s for s in self.STAGES if s not in updates]
        if missing:
            raise ValueError("budget without updates for %s" % ", ".join(missing))
        self.updates = {s: int(updates[s]) for s in self.STAGES}
        self.updates["supervised"] = self.updates["align"] + self.updates["cross"]
        self.batch_size = {s: int(batch_size.get(s, batch_size.get("default", 50)))
                           for s in self.STAGES + ("supervised",)}
        self.options = copy.deepcopy(options or {})
        unknown = sorted(set(self.options) - set(self.updates))
        if unknown:
            raise ValueError("budget options for unknown stages %s"
                             % ", ".join(unknown))

    def as_dict(self):
        return {"updates": dict(self.updates), "batch_size": dict(self.batch_size),
                "options": copy.deepcopy(self.options)}


# name -> stages this arm trains itself, where its GAN comes from ('shared':
# one GAN pretraining per seed on all training frames; 'own': trained in the
# arm; None: no GAN), the parts taken from the shared GAN, whether its GAN
# terms and batch-norm statistics may use unlabelled depth maps, and stage
# options.
ARMS = OrderedDict([
    ("A supervised, scratch", dict(
        stages=["vae", "supervised"], gan=None, unlabelled_depth=False)),
    ("B supervised, GAN-pretrained D", dict(
        stages=["vae", "supervised"], gan="shared", parts=["discriminator"],
        unlabelled_depth=False)),
    ("C crossing nets, labelled frames only", dict(
        stages=["vae", "gan", "align", "cross"], gan="own",
        unlabelled_depth=False)),
    ("D crossing nets, all frames", dict(
        stages=["vae", "align", "cross"], gan="shared",
        parts=["generator", "discriminator"], unlabelled_depth=True)),
    # A and B with the learning rate the crossing arms' posterior head gets
    # at each of its updates (3a's, then 3b's): separates the learning rate
    # from what stages 3a/3b add.
    ("E supervised, scratch, 3a/3b learning rates", dict(
        stages=["vae", "supervised"], gan=None, unlabelled_depth=False,
        head_lr="crossing")),
    ("F supervised, GAN-pretrained D, 3a/3b learning rates", dict(
        stages=["vae", "supervised"], gan="shared", parts=["discriminator"],
        unlabelled_depth=False, head_lr="crossing")),
    ("smoothness, no adversarial 3b", dict(
        stages=["vae", "align", "cross"], gan="shared",
        parts=["generator", "discriminator"], unlabelled_depth=True,
        options={"cross": {"adversarial": False}})),
])


def _budget_entry(stage, budget):
    """One stage's schedule: the paper's learning settings, the budget's
    updates, batch size and stage options, no epochs."""
    entry = dict(named_schedule("paper")[stage], updates=budget.updates[stage],
                 batch_size=budget.batch_size[stage])
    entry.pop("epochs")
    entry.update(budget.options.get(stage, {}))
    return entry


def crossing_head_lr_steps(budget):
    """[[first update, lr], ...]: the learning rate of the crossing arms'
    posterior head at each of its updates, 3a's schedule for the first
    ``align`` updates, then 3b's (with their decays, if any)."""
    steps, offset = [], 0
    for stage in ("align", "cross"):
        entry = _budget_entry(stage, budget)
        n = entry["updates"]
        every = entry.get("decay_every", n) if "lr_decay" in entry else n
        for first in range(0, n, max(every, 1)):
            steps.append([offset + first, float(
                learning_rate(entry, first))])
        offset += n
    return steps


def arm_schedule(arm, budget, latent="sample"):
    """The schedule of the stages an arm trains itself (see
    :func:`_budget_entry`), with the arm's stage options; an arm with
    ``head_lr='crossing'`` runs its supervised stage at
    :func:`crossing_head_lr_steps`."""
    spec = ARMS[arm]
    out = {}
    for stage in spec["stages"]:
        entry = _budget_entry(stage, budget)
        if stage in POSTERIOR_STAGES:
            entry["latent"] = latent
        if stage == "supervised" and spec.get("head_lr") == "crossing":
            steps = crossing_head_lr_steps(budget)
            entry.update(lr=steps[0][1], lr_steps=steps)
            for k in ("lr_decay", "decay_every"):
                entry.pop(k, None)
        entry.update(spec.get("options", {}).get(stage, {}))
        out[stage] = entry
    return out


def planned_updates(arm, budget):
    """{'vae', 'gan', 'posterior'} updates an arm gets in total (its own
    stages plus the shared GAN's), 'gan' 0 without one."""
    spec = ARMS[arm]
    sched = arm_schedule(arm, budget)
    gan = budget.updates["gan"] if spec["gan"] else 0
    posterior = sum(sched[s]["updates"] for s in POSTERIOR_STAGES if s in sched)
    return {"vae": sched["vae"]["updates"], "gan": gan, "posterior": posterior}


def _common_config(dataset, train_h5, stages, sched, fraction, seed,
                   validation_fraction, validate_every, **kw):
    cfg = make_config(dataset, train_h5, stages, seed=seed,
                      labelled_fraction=fraction,
                      validation_fraction=validation_fraction,
                      validate_every=validate_every, **kw)
    cfg["schedule"] = copy.deepcopy(sched)
    return cfg


def _train_one_stage(run_dir, stage, dataset, train_h5, budget, fraction,
                     seed, validation_fraction, progress, log, **kw):
    """Train (or resume) a run of the single ``stage`` at the budget's
    schedule; returns ``run_dir``."""
    sched = {stage: _budget_entry(stage, budget)}
    cfg = _common_config(dataset, train_h5, [stage], sched, fraction, seed,
                         validation_fraction, 1, **kw)
    trainer = Trainer(cfg, run_dir, resume=run_has_checkpoint(run_dir),
                      progress=progress, log=log)
    trainer.run()
    trainer.close()
    return run_dir


def train_shared_gan(run_dir, dataset, train_h5, budget, seed,
                     validation_fraction, progress=False, log=print,
                     fraction=1.0, unlabelled_frames=None):
    """Stage 2 alone on the depth maps of all training frames (no labels
    read): the GAN the 'shared' arms of one seed start from. With
    ``unlabelled_frames`` k: on the depth pool of ``fraction``'s labelled
    frames and k unlabelled ones (see :class:`TrainingData`)."""
    return _train_one_stage(run_dir, "gan", dataset, train_h5, budget,
                            fraction, seed, validation_fraction, progress,
                            log, unlabelled_frames=unlabelled_frames)


def train_shared_vae(run_dir, dataset, train_h5, budget, fraction, seed,
                     validation_fraction, progress=False, log=print):
    """Stage 1 alone on the labelled poses of one fraction and seed: the
    pose VAE every arm of that fraction and seed takes (each would train
    the same one: same poses, seed and schedule)."""
    return _train_one_stage(run_dir, "vae", dataset, train_h5, budget,
                            fraction, seed, validation_fraction, progress, log)


def run_arm(run_dir, arm, dataset, train_h5, test_h5, budget, fraction, seed,
            validation_fraction, shared_gan=None, validate_every=50,
            latent="sample", progress=False, log=print, shared_vae=None,
            unlabelled_frames=None):
    """Train one arm (resuming ``run_dir``), evaluate its chosen model on
    ``test_h5``: the evaluation dict with ``name``, ``updates`` (done,
    shared runs included), ``planned_updates``, ``best`` (validation).
    ``shared_vae``: a :func:`train_shared_vae` run of this fraction and
    seed, whose pose VAE the arm takes instead of training its own.
    ``unlabelled_frames``: at most this many unlabelled frames for an arm
    that uses unlabelled depth (its shared GAN should be trained on the
    same pool: :func:`train_shared_gan`)."""
    from .data.cache import CacheDataset
    from .evaluation.predict import evaluate_cache
    spec = ARMS[arm]
    if unlabelled_frames is not None and not spec["unlabelled_depth"]:
        raise ValueError("arm %r uses no unlabelled frames" % arm)
    init_from = []
    if spec["gan"] == "shared":
        if shared_gan is None:
            raise ValueError("arm %r needs the shared GAN run" % arm)
        init_from.append({"run": shared_gan, "parts": spec["parts"]})
    if shared_vae is not None:
        init_from.append({"run": shared_vae, "parts": ["encoder", "decoder"],
                          "stages": ["vae"]})
    cfg = _common_config(dataset, train_h5, spec["stages"],
                         arm_schedule(arm, budget, latent), fraction, seed,
                         validation_fraction, validate_every,
                         unlabelled_depth=spec["unlabelled_depth"],
                         init_from=init_from,
                         unlabelled_frames=unlabelled_frames)
    trainer = Trainer(cfg, run_dir, resume=run_has_checkpoint(run_dir),
                      progress=progress, log=log)
    trainer.run()
    with CacheDataset(test_h5, expected=trainer.data.params) as test:
        result = evaluate_cache(trainer.net, test)
    result.update(name=arm, updates=total_updates(trainer.state),
                  planned_updates=planned_updates(arm, budget),
                  best=trainer.state.get("best"),
                  labelled_frames=len(trainer.data.labelled))
    trainer.close()
    return result


def synthetic_caches(folder, frames, test_frames, size, seed=0, progress=True):
    """(train.h5, test.h5) of built-in synthetic hands in ``folder``
    (made once; re-running reuses or resumes them; rendered on all cores).
    The test split is drawn with ``seed + TEST_SEED_OFFSET``."""
    from .data.cache import write_cache
    from .data.synthetic import SyntheticHands
    train = os.path.join(folder, "synthetic_train.h5")
    test = os.path.join(folder, "synthetic_test.h5")
    workers = os.cpu_count() or 1          # rendering is pure numpy
    write_cache(train, SyntheticHands(frames, seed=seed, size=size), "train",
                progress=progress, workers=workers)
    write_cache(test, SyntheticHands(test_frames, seed=seed + TEST_SEED_OFFSET,
                                     size=size), "test", progress=progress,
                workers=workers)
    return train, test
