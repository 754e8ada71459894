"""Building blocks of the demo and of ``paper_experiments/``: synthetic
caches and "train these stages, then evaluate on a test cache"."""
import copy
import os

from .checkpoint import run_has_checkpoint
from .conventions import TEST_SEED_OFFSET
from .training.runner import Trainer, make_config

__all__ = ["synthetic_caches", "train_and_evaluate"]


def synthetic_caches(folder, frames, test_frames, size, seed=0, progress=True):
    """(train.h5, test.h5) of built-in synthetic hands in ``folder``
    (made once; re-running reuses or resumes them). The test split is drawn
    with ``seed + TEST_SEED_OFFSET``."""
    from .data.cache import write_cache
    from .data.synthetic import SyntheticHands
    train = os.path.join(folder, "synthetic_train.h5")
    test = os.path.join(folder, "synthetic_test.h5")
    write_cache(train, SyntheticHands(frames, seed=seed, size=size), "train",
                progress=progress)
    write_cache(test, SyntheticHands(test_frames, seed=seed + TEST_SEED_OFFSET,
                                     size=size), "test", progress=progress)
    return train, test


def train_and_evaluate(run_dir, dataset, train_h5, test_h5, stages, schedule,
                       labelled_fraction=1.0, seed=0, progress=True, log=print,
                       name=None):
    """Train ``stages`` (resuming ``run_dir`` if it holds a run), evaluate on
    ``test_h5``; returns (evaluation dict with ``name``, throughput, net)."""
    from .data.cache import CacheDataset
    from .evaluation.predict import evaluate_cache
    cfg = make_config(dataset, train_h5, stages, seed=seed,
                      labelled_fraction=labelled_fraction)
    cfg["schedule"] = {s: copy.deepcopy(schedule[s]) for s in stages}
    trainer = Trainer(cfg, run_dir, resume=run_has_checkpoint(run_dir),
                      progress=progress, log=log)
    throughput = trainer.run()
    with CacheDataset(test_h5, expected=trainer.data.params) as test:
        result = evaluate_cache(trainer.net, test)
    trainer.close()
    result["name"] = name or os.path.basename(run_dir.rstrip("/"))
    return result, throughput, trainer.net
