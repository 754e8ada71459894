"""Self-comparison (ablation): what each part of Crossing Nets adds, one
component per arm, all at the same budget (updates per stage; the
posterior head gets as many updates in every arm):

* posterior alone: pose VAE, then D conv1-2 + posterior head on L_pos from
  scratch (arm A of the semi-supervised experiment);
* + GAN-pretrained features: the same, started from the GAN's D (arm B);
* + smoothness: the GAN, stage 3a and stage 3b *without* its adversarial
  terms (D step L_pos + L_smo, G step L_recons + L_smo): the shared latent
  space and the smoothness prior, with the GAN trained but not played on
  during crossing;
* full crossing: 3a and the whole 3b (arm D);
* the first two again at the learning rate the crossing arms' posterior
  head gets at each update (3a's, then 3b's; arms E and F).

Each arm chooses its checkpoint on a labelled validation split and is
evaluated with population batch-norm statistics; the constant pose and
ridge regression on pixels are printed beside them. Writes success-rate
curves (max criterion), a table and a JSON file.

    python paper_experiments/ablation_self_comparison.py --quick
    python paper_experiments/ablation_self_comparison.py --standard
    python paper_experiments/ablation_self_comparison.py --dataset icvl \\
        --train-data icvl_train.h5 --test-data icvl_test.h5
"""
import argparse
import os
import time

import common  # noqa: F401
from common import (add_common_arguments, add_training_arguments,
                    describe_budget, experiment_setup, markdown_table,
                    write_json, write_text)

VARIANTS = [
    ("posterior alone", "A supervised, scratch"),
    ("+ GAN-pretrained features", "B supervised, GAN-pretrained D"),
    ("+ smoothness", "smoothness, no adversarial 3b"),
    ("full crossing", "D crossing nets, all frames"),
    # the first two at the crossing head's learning rates (3a's, then 3b's)
    ("posterior alone, 3a/3b lr", "E supervised, scratch, 3a/3b learning rates"),
    ("+ GAN-pretrained features, 3a/3b lr",
     "F supervised, GAN-pretrained D, 3a/3b learning rates"),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "results/ablation", standard=True)
    add_training_arguments(parser)
    parser.add_argument("--labelled-fraction", type=float, default=1.0)
    args = parser.parse_args(argv)
    from crossnet.evaluation.report import plot_curves
    from crossnet.pipeline import (ARMS, run_arm, train_shared_gan,
                                   train_shared_vae)
    from semi_supervised import baselines

    t0 = time.perf_counter()
    dataset, train, test, st, described = experiment_setup(args)
    budget, f, seed = st["budget"], args.labelled_fraction, args.seed
    gan_dir = os.path.join(args.out, "runs", "shared_gan")
    train_shared_gan(gan_dir, dataset, train, budget, seed,
                     st["validation_fraction"], log=lambda *a: None)
    vae_dir = os.path.join(args.out, "runs", "shared_vae")
    train_shared_vae(vae_dir, dataset, train, budget, f, seed,
                     st["validation_fraction"], log=lambda *a: None)
    results = []
    for label, arm in VARIANTS:
        run_dir = os.path.join(args.out, "runs", arm.split(",")[0].replace(" ", "_"))
        ev = run_arm(run_dir, arm, dataset, train, test, budget, f, seed,
                     st["validation_fraction"], gan_dir, st["validate_every"],
                     log=lambda *a: None, shared_vae=vae_dir)
        ev["name"], ev["arm"] = label, arm
        results.append(ev)
        print("%-26s %.2f mm" % (label, ev["mean_error_mm"]), flush=True)
    base = baselines(train, test, dataset, f, seed, st["validation_fraction"])
    fig = plot_curves(results + list(base.values()),
                      os.path.join(args.out, "ablation_success.png"),
                      "max_error_curve", "self-comparison (%s)" % dataset)
    rows = [[r["name"], " -> ".join(
        (["gan (shared)"] if ARMS[r["arm"]]["gan"] == "shared" else [])
        + ARMS[r["arm"]]["stages"]), "%.2f" % r["mean_error_mm"],
        r["best"] and "%s@%d" % (r["best"]["stage"], r["best"]["updates"])]
        for r in results]
    rows += [[name, "baseline", "%.2f" % b["mean_error_mm"], "-"]
             for name, b in base.items()]
    minutes = (time.perf_counter() - t0) / 60
    text = ("# Self-comparison\n\nData: %s; labelled fraction %g, seed %d."
            "\n\n%s\n\nPaper: self-comparison figure "
            "(success-rate curves; its values are not in the SPEC, so none "
            "are quoted here).\n\n%s\n\nFigure: %s\n\nWall time: %.1f min.\n"
            % (described, f, seed, describe_budget(budget),
               markdown_table(["variant", "stages", "mean joint error (mm)",
                               "chosen checkpoint"], rows), fig, minutes))
    write_text(os.path.join(args.out, "ablation.md"), text)
    write_json(os.path.join(args.out, "ablation.json"),
               {"data": described, "scale": st["scale"],
                "budget": budget.as_dict(), "results": results,
                "baselines": base, "minutes": round(minutes, 2)})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
