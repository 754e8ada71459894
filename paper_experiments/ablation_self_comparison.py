"""Self-comparison (ablation): what each part of Crossing Nets adds.

Variants, each trained from scratch with the same data and seed:

* posterior alone: pose VAE, then D conv1-2 + posterior head on L_pos
  (supervised, no GAN);
* + GAN pretraining: pose VAE, depth GAN, then the same supervised stage
  starting from the GAN's discriminator;
* + smoothness: pose VAE, depth GAN, stage 3a (Ali on L_recons, posterior
  and metric heads on L_pos + L_smo, GAN frozen);
* full crossing: pose VAE, depth GAN, 3a, 3b.

Writes success-rate curves (max criterion), a table of mean errors and a
JSON file.

    python paper_experiments/ablation_self_comparison.py --quick
    python paper_experiments/ablation_self_comparison.py --dataset icvl \\
        --train-data icvl_train.h5 --test-data icvl_test.h5
"""
import argparse
import os

import common  # noqa: F401
from common import (add_common_arguments, add_training_arguments,
                    experiment_data, markdown_table, write_json, write_text)

VARIANTS = [
    ("posterior alone", ["vae", "supervised"]),
    ("+ GAN pretraining", ["vae", "gan", "supervised"]),
    ("+ smoothness", ["vae", "gan", "align"]),
    ("full crossing", ["vae", "gan", "align", "cross"]),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "results/ablation")
    add_training_arguments(parser)
    parser.add_argument("--labelled-fraction", type=float, default=1.0)
    args = parser.parse_args(argv)
    from crossnet.evaluation.report import plot_curves
    from crossnet.pipeline import train_and_evaluate

    dataset, train, test, schedule, described = experiment_data(args)
    results = []
    for label, stages in VARIANTS:
        run_dir = os.path.join(args.out, "runs", label.strip("+ ").replace(" ", "_"))
        ev, fps, _ = train_and_evaluate(run_dir, dataset, train, test, stages,
                                        schedule, args.labelled_fraction,
                                        args.seed, progress=False,
                                        log=lambda *a: None, name=label)
        results.append(ev)
        print("%-20s %.2f mm" % (label, ev["mean_error_mm"]))
    fig = plot_curves(results, os.path.join(args.out, "ablation_success.png"),
                      "max_error_curve", "self-comparison (%s)" % dataset)
    table = markdown_table(["variant", "stages", "mean joint error (mm)"],
                           [[r["name"], " -> ".join(s), "%.2f" % r["mean_error_mm"]]
                            for r, (_, s) in zip(results, VARIANTS)])
    text = ("# Self-comparison\n\nData: %s.\n\nPaper: self-comparison figure "
            "(success-rate curves; its values are not in the SPEC, so none "
            "are quoted here).\n\n%s\n\nFigure: %s\n" % (described, table, fig))
    write_text(os.path.join(args.out, "ablation.md"), text)
    write_json(os.path.join(args.out, "ablation.json"),
               {"data": described, "results": results})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
