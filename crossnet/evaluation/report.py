"""Comparison of several methods' predictions: table, JSON, plots, Markdown."""
import os

import numpy as np

from ..conventions import BENCHMARK_NUM_JOINTS
from ..fileio import atomic_write_json, atomic_write_text
from . import metrics
from .pose_files import PoseFileError, read_pose_file

__all__ = ["JOINT_NAMES", "compare_files", "write_report", "plot_curves",
           "plot_per_joint"]

# Joint order of the public files (SPEC section 7)
JOINT_NAMES = {
    "nyu": ["Pinky tip", "Pinky root", "Ring tip", "Ring root", "Middle tip",
            "Middle root", "Index tip", "Index root", "Thumb tip",
            "Thumb root2", "Thumb root1", "Wrist2", "Wrist1", "Palm"],
    "icvl": ["Palm"] + ["%s %s" % (f, p) for f in
                        ("Thumb", "Index", "Middle", "Ring", "Pinky")
                        for p in ("root", "mid", "tip")],
    "msra": ["Wrist"] + ["%s %s" % (f, p) for f in
                         ("Index", "Middle", "Ring", "Pinky", "Thumb")
                         for p in ("MCP", "PIP", "DIP", "TIP")],
}


def _default_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def compare_files(dataset, gt_path, pred_paths, names=None):
    """One result dict per prediction file (keys of ``crossnet evaluate
    --json``), checking frame and joint counts against the ground truth."""
    if names and len(names) != len(pred_paths):
        raise ValueError("%d --name for %d --pred" % (len(names), len(pred_paths)))
    gt = read_pose_file(gt_path)
    expected = BENCHMARK_NUM_JOINTS.get(dataset)
    if expected is not None and gt.shape[1] != expected:
        raise PoseFileError("%s: %d joints per frame, but --dataset %s files "
                            "have %d (%s)" % (
                                gt_path, gt.shape[1], dataset, expected,
                                ", ".join("%s: %d" % kv for kv in
                                          BENCHMARK_NUM_JOINTS.items())))
    results = []
    for i, path in enumerate(pred_paths):
        pred = read_pose_file(path)
        if pred.shape[1] != gt.shape[1]:
            raise PoseFileError("%s: %d joints per frame, the ground truth %s "
                                "has %d" % (path, pred.shape[1], gt_path,
                                            gt.shape[1]))
        seq1 = (dataset == "icvl" and len(pred) == metrics.ICVL_SEQ1_FRAMES)
        if len(pred) != len(gt) and not seq1:
            raise PoseFileError("%s: %d frames, the ground truth %s has %d"
                                % (path, len(pred), gt_path, len(gt)))
        summary = metrics.summarise(metrics.evaluate_uvd(pred, gt, dataset))
        summary["name"] = names[i] if names else _default_name(path)
        results.append(summary)
    return results


def markdown_table(header, rows):
    """A Markdown table: ``header`` (names) and ``rows`` (lists of cells,
    formatted with ``str``)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def table(results):
    lines = ["%-40s %7s %12s" % ("method", "frames", "mean (mm)")]
    for r in results:
        lines.append("%-40s %7d %12.3f" % (r["name"], r["frames"],
                                           r["mean_error_mm"]))
    return "\n".join(lines)


def plot_curves(results, path, key="max_error_curve", title=None):
    from ..plotting import atomic_savefig, pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for r in results:
        c = r[key]
        ax.plot(c["thresholds_mm"], np.asarray(c["fraction"]) * 100,
                label="%s (%.1f mm)" % (r["name"], r["mean_error_mm"]))
    crit = "maximum" if key == "max_error_curve" else "mean"
    ax.set_xlabel("distance threshold D (mm)")
    ax.set_ylabel("frames with %s joint error <= D (%%)" % crit)
    ax.set_xlim(0, 80)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return path


def plot_per_joint(results, dataset, path):
    from ..plotting import atomic_savefig, pyplot
    plt = pyplot()
    J = len(results[0]["per_joint_mm"])
    names = JOINT_NAMES.get(dataset, [])
    labels = (names if len(names) == J else [str(j) for j in range(J)]) + ["Mean"]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.6 * (J + 1)), 4.5))
    width = 0.8 / len(results)
    x = np.arange(J + 1)
    for i, r in enumerate(results):
        ax.bar(x + (i - (len(results) - 1) / 2) * width,
               r["per_joint_mm"] + [r["mean_error_mm"]], width, label=r["name"])
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("mean joint error (mm)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return path


def write_report(results, dataset, gt_path, out_dir):
    """Curves, per-joint bars, ``results.json`` and ``report.md`` in out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    files = {
        "max_curve": plot_curves(results, os.path.join(out_dir, "success_max.png"),
                                 "max_error_curve", dataset.upper()),
        "mean_curve": plot_curves(results, os.path.join(out_dir, "success_mean.png"),
                                  "mean_error_curve", dataset.upper()),
        "per_joint": plot_per_joint(results, dataset,
                                    os.path.join(out_dir, "per_joint.png")),
    }
    atomic_write_json(os.path.join(out_dir, "results.json"), results)
    lines = ["# %s evaluation" % dataset.upper(), "",
             "Ground truth: `%s`" % gt_path, "",
             markdown_table(["method", "frames", "mean joint error (mm)"],
                            [[r["name"], r["frames"], "%.3f" % r["mean_error_mm"]]
                             for r in results])]
    lines += ["", "![success rate, max criterion](success_max.png)",
              "![success rate, mean criterion](success_mean.png)",
              "![per-joint error](per_joint.png)", ""]
    atomic_write_text(os.path.join(out_dir, "report.md"), "\n".join(lines))
    return files
