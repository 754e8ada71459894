"""``crossnet demo``: the whole pipeline on built-in synthetic hands.

Reduced from the paper's setting so that it runs in about 10 minutes on 2
cores (most of the first run's time is compiling; the compile cache makes
later runs faster): 64x64 crops instead of 128x128, 2,000 training and 300
test frames instead of tens of thousands, and a few epochs per stage (the
``demo`` schedule of :mod:`crossnet.training.schedules`). Losses, learning rates, optimiser and architecture
(apart from the crop size) are the paper's. The run folder gets the
checkpoints, loss curves, depth maps rendered from test poses, success-rate
curves of Crossing Nets and of the supervised baseline, and ``report.md``.
"""
import json
import os
import time

import numpy as np

from .conventions import UNIT_MM
from .fileio import atomic_write_json, atomic_write_text
from .evaluation.report import markdown_table
from .pipeline import synthetic_caches, train_and_evaluate
from .training.runner import read_log
from .training.schedules import STAGE_SETS, schedule as named_schedule

__all__ = ["run_demo", "plot_losses"]


def plot_losses(run_dir, path):
    """One panel per stage, every loss term against the epoch."""
    from .plotting import atomic_savefig, pyplot
    plt = pyplot()
    entries = read_log(run_dir)
    stages = list(dict.fromkeys(e["stage"] for e in entries))
    fig, axes = plt.subplots(1, len(stages), figsize=(4 * len(stages), 3.2),
                             squeeze=False)
    for ax, stage in zip(axes[0], stages):
        rows = [e for e in entries if e["stage"] == stage]
        for term in rows[0]["losses"]:
            ax.plot([e["epoch"] + 1 for e in rows],
                    [e["losses"][term] for e in rows], marker=".", label=term)
        ax.set_title("stage %s" % stage)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_yscale("symlog", linthresh=1e-2)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)
    return path


def run_demo(out, frames=2000, test_frames=300, size=64, labelled_fraction=0.5,
             seed=0, schedule=None, progress=True, log=print):
    """Prepare, train, evaluate and report; returns the summary dict."""
    from .data.cache import CacheDataset
    from .evaluation.report import plot_curves
    from .plotting import depth_grid, save_png

    schedule = schedule or named_schedule("demo")
    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    train_h5, test_h5 = synthetic_caches(os.path.join(out, "data"), frames,
                                         test_frames, size, seed, progress)
    log("data ready: %d training, %d test frames of %dx%d"
        % (frames, test_frames, size, size))

    runs = {name: STAGE_SETS[name] for name in ("crossing_nets", "supervised")}
    results, throughput, nets = {}, {}, {}
    for name, stages in runs.items():
        ev, throughput[name], nets[name] = train_and_evaluate(
            os.path.join(out, name), "synthetic", train_h5, test_h5, stages,
            schedule, labelled_fraction, seed, progress, log, name)
        results[name] = ev
        log("%s: mean joint error %.2f mm on %d held-out frames"
            % (name, ev["mean_error_mm"], ev["frames"]))
    # baselines on the same frames, fitted on the same labelled frames
    from .evaluation.baselines import evaluate_baselines
    from .training.runner import TrainingData
    train_data = TrainingData(train_h5, "synthetic", labelled_fraction, seed)
    with CacheDataset(test_h5) as test:
        baselines = evaluate_baselines(train_data.cache, train_data.labelled, test)
    train_data.cache.close()
    # depth maps rendered from held-out poses through Ali + generator
    with CacheDataset(test_h5) as test:
        b = test.read(np.arange(min(16, len(test))),
                      ("depth", "pose", "origin"))
    net = nets["crossing_nets"]
    rel_mm = (b["pose"] + b["origin"][:, None]) * UNIT_MM
    rendered = net.render(net.encode_pose(rel_mm))
    figures = {
        "loss_curves": plot_losses(os.path.join(out, "crossing_nets"),
                                   os.path.join(out, "loss_curves.png")),
        "rendered": save_png(os.path.join(out, "rendered_from_poses.png"),
                             depth_grid(np.concatenate([b["depth"], rendered]))),
        "success": plot_curves(list(results.values()) + list(baselines.values()),
                               os.path.join(out, "success_rate.png"),
                               "max_error_curve", "synthetic held-out frames"),
    }
    summary = {
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "labelled_fraction": labelled_fraction, "image_size": size,
        "train_frames": frames, "test_frames": test_frames,
        "mean_error_mm": {k: v["mean_error_mm"] for k, v in results.items()},
        "baselines_mm": {k: v["mean_error_mm"] for k, v in baselines.items()},
        "frames_per_s": throughput, "figures": figures,
    }
    atomic_write_json(os.path.join(out, "summary.json"), summary)
    _write_report(out, summary)
    return summary


def _write_report(out, s):
    rows = [[k.replace("_", " "), "network", "%.2f" % v]
            for k, v in s["mean_error_mm"].items()]
    rows += [[k, "baseline", "%.2f" % v] for k, v in s["baselines_mm"].items()]
    lines = [
        "# crossnet demo (built-in synthetic hands)", "",
        "Reduced setting: %dx%d crops, %d training / %d held-out frames, "
        "labelled fraction %.2f (the unlabelled frames feed only the GAN "
        "terms), a few epochs per stage. Not comparable to the paper's numbers."
        % (s["image_size"], s["image_size"], s["train_frames"],
           s["test_frames"], s["labelled_fraction"]), "",
        "Mean joint error on the held-out frames. Baselines, fitted on the "
        "same labelled frames: the constant training-mean pose, and ridge "
        "regression on raw pixels (penalty chosen on a tenth of the training "
        "frames).", "",
        markdown_table(["method", "kind", "mean joint error (mm)"], rows), "",
        "Training throughput (median frames/s per stage): %s"
        % json.dumps(s["frames_per_s"]), "",
        "Wall time: %.0f s." % s["wall_time_s"], ""]
    captions = {
        "loss_curves": "Loss terms of every stage against the epoch.",
        "rendered": "Top: real held-out crops; bottom: depth maps rendered "
                    "from their poses (pose VAE -> Ali -> generator).",
        "success": "Fraction of held-out frames whose worst joint is within "
                   "a threshold.",
    }
    for key, path in s["figures"].items():
        lines += [captions[key], "", "![%s](%s)" % (key, os.path.basename(path)),
                  ""]
    atomic_write_text(os.path.join(out, "report.md"), "\n".join(lines))
