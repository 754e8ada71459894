"""Every training schedule, in one table (SPEC section 4; Adam beta1 = 0.5).

``SCHEDULES[name][stage]`` holds epochs, batch size, learning rate (and the
VAE's decay, the GAN's generator loss). The reduced schedules keep the
paper's losses and learning rates and cut only epochs and batch sizes:

* ``paper``: the authors' schedule;
* ``quick``: ``crossnet train --quick`` (a laptop).

The demo and the paper experiments count budgets in updates instead, the
same for every arm (:class:`crossnet.pipeline.Budget`; their tables are
``crossnet.demo.DEMO_UPDATES`` and ``paper_experiments/common.py``).

``STAGE_SETS`` names the stage lists the commands run.
"""
import copy

__all__ = ["SCHEDULES", "STAGE_SETS", "STAGES", "schedule"]

STAGES = ("vae", "gan", "align", "cross", "supervised")

_PAPER = {
    "vae": {"epochs": 201, "batch_size": 200, "lr": 3e-4, "lr_decay": 0.95,
            "decay_every": 10000},
    "gan": {"epochs": 1001, "batch_size": 100, "lr": 3e-4,
            "generator_loss": "feature_matching"},
    "align": {"epochs": 21, "batch_size": 200, "lr": 1e-2},
    "cross": {"epochs": 80, "batch_size": 200, "lr": 1e-3},
    "supervised": {"epochs": 80, "batch_size": 200, "lr": 1e-3},
}


def _reduced(table):
    """The paper's schedule with (epochs, batch size) per stage replaced."""
    return {s: dict(_PAPER[s], epochs=e, batch_size=b)
            for s, (e, b) in table.items()}


SCHEDULES = {
    "paper": _PAPER,
    "quick": _reduced({"vae": (60, 64), "gan": (6, 32), "align": (3, 32),
                       "cross": (6, 32), "supervised": (12, 32)}),
}

STAGE_SETS = {
    "crossing_nets": ["vae", "gan", "align", "cross"],     # the paper
    "supervised": ["vae", "supervised"],                   # the baseline
}


def schedule(name):
    """A deep copy of ``SCHEDULES[name]`` (safe to modify)."""
    if name not in SCHEDULES:
        raise ValueError("unknown schedule %r; choose one of %s"
                         % (name, ", ".join(SCHEDULES)))
    return copy.deepcopy(SCHEDULES[name])
