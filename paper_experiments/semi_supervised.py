"""Semi-supervised learning: mean error against the fraction of labelled
frames, for Crossing Nets and for the supervised baseline (posterior network
alone, trained on the labelled frames only).

Crossing Nets use the unlabelled frames' depth maps in the GAN terms (the
paper's claim; not in the authors' release, implemented here); the baseline
cannot use them.

    python paper_experiments/semi_supervised.py --quick
    python paper_experiments/semi_supervised.py --dataset nyu \\
        --train-data nyu_train.h5 --test-data nyu_test.h5
"""
import argparse
import os

import common  # noqa: F401
from common import (add_common_arguments, add_training_arguments,
                    experiment_data, markdown_table, write_json, write_text)
from crossnet.training.schedules import STAGE_SETS  # noqa: E402

FULL_FRACTIONS = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0]
QUICK_FRACTIONS = [0.25, 1.0]
METHODS = [("crossing nets", STAGE_SETS["crossing_nets"]),
           ("supervised", STAGE_SETS["supervised"])]


def plot(fractions, errors, path):
    from crossnet.plotting import atomic_savefig, pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, ys in errors.items():
        ax.plot([100 * f for f in fractions], ys, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("labelled training frames (%)")
    ax.set_ylabel("mean joint error (mm)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "results/semi_supervised")
    add_training_arguments(parser)
    parser.add_argument("--fractions", type=float, nargs="+",
                        help="labelled fractions (default: 1 5 10 25 50 100 %%;"
                             " --quick: 25 100 %%)")
    args = parser.parse_args(argv)
    from crossnet.pipeline import train_and_evaluate

    dataset, train, test, schedule, described = experiment_data(args)
    fractions = args.fractions or (QUICK_FRACTIONS if args.quick else FULL_FRACTIONS)
    errors = {name: [] for name, _ in METHODS}
    for f in fractions:
        for name, stages in METHODS:
            run_dir = os.path.join(args.out, "runs", "%s_%g" % (
                name.replace(" ", "_"), f))
            ev, _, _ = train_and_evaluate(run_dir, dataset, train, test, stages,
                                          schedule, f, args.seed, progress=False,
                                          log=lambda *a: None, name=name)
            errors[name].append(ev["mean_error_mm"])
            print("%-14s labelled %5.1f%%: %.2f mm" % (name, 100 * f,
                                                       ev["mean_error_mm"]))
    fig = plot(fractions, errors, os.path.join(args.out, "semi_supervised.png"))
    table = markdown_table(
        ["labelled"] + [n for n, _ in METHODS],
        [["%g %%" % (100 * f)] + ["%.2f" % errors[n][i] for n, _ in METHODS]
         for i, f in enumerate(fractions)])
    text = ("# Semi-supervised\n\nData: %s.\n\nPaper: semi-supervised figure "
            "(its values are not in the SPEC, so none are quoted here).\n\n"
            "Mean joint error (mm):\n\n%s\n\nFigure: %s\n" % (described, table, fig))
    write_text(os.path.join(args.out, "semi_supervised.md"), text)
    write_json(os.path.join(args.out, "semi_supervised.json"),
               {"data": described, "fractions": fractions, "mean_error_mm": errors})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
