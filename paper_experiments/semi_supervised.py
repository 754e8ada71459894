"""Semi-supervised learning: does Crossing Nets gain from unlabelled depth
maps? Mean joint error against the fraction of labelled frames, four arms
at equal budgets (updates per stage, crossnet.pipeline), several seeds:

* (A) supervised from scratch: D conv1-2 + posterior head on L_pos;
* (B) supervised from the GAN-pretrained D (GAN trained on all frames);
* (C) Crossing Nets with only the labelled frames (GAN and 3b too);
* (D) Crossing Nets with all frames (the paper's semi-supervised claim);
* (E), (F): A and B at the learning rate the crossing arms' posterior head
  gets at each update (3a's, then 3b's), so that the learning rate is not
  what separates supervised from crossing;
* with ``--unlabelled-frames K ...``: (D) again with only K unlabelled
  frames (and its own GAN pretraining on that pool), at every fraction
  below 100 %: does a larger unlabelled pool help at fixed labelled frames?
  (``--train-frames`` and ``--fractions`` set the pool and labelled sizes
  of the synthetic scales.)

Beside them: the constant training-mean pose and ridge regression on
pixels, fitted on the same labelled frames. Every arm chooses its checkpoint
on a labelled validation split of the training frames (the same for every
fraction of a seed) and is evaluated with population batch-norm
statistics. At 100 % labels (C) is (D) with its own GAN on the same frames,
so it is not run again.

    python paper_experiments/semi_supervised.py --quick       # CI: pipeline
    python paper_experiments/semi_supervised.py --standard    # <= ~90 min
    python paper_experiments/semi_supervised.py --dataset nyu \\
        --train-data nyu_train.h5 --test-data nyu_test.h5     # full
"""
import argparse
import os
import time

import numpy as np

import common  # noqa: F401
from common import (add_common_arguments, add_training_arguments,
                    describe_budget, experiment_setup, markdown_table,
                    write_json, write_text)

ARMS = ["A supervised, scratch", "B supervised, GAN-pretrained D",
        "C crossing nets, labelled frames only", "D crossing nets, all frames",
        "E supervised, scratch, 3a/3b learning rates",
        "F supervised, GAN-pretrained D, 3a/3b learning rates"]
BASELINES = ["constant pose", "ridge on pixels"]
POOL_ARM = "D crossing nets, all frames"


def pool_arm_name(k):
    """Table name of arm D run with at most ``k`` unlabelled frames."""
    return "D crossing nets, %d unlabelled frames" % k


def seeds_for(fraction, fractions, st, seeds_lowest=None):
    n = (seeds_lowest or st["seeds_lowest"]) if fraction == min(fractions) \
        else st["seeds_other"]
    return list(range(n))


def arms_at(fraction):
    """The arms run at a fraction: all but C at 100 % (C = D there)."""
    return [a for a in ARMS if not (fraction == 1.0 and a.startswith("C "))]


def pools_at(fraction, pools):
    """The pool sizes arm D runs again with at a fraction: none at 100 %,
    which leaves no unlabelled frames."""
    return list(pools) if fraction < 1 else []


def summarise(values):
    """(mean, sample std or 0, n) of a list of errors."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def plot(fractions, table, path, names):
    from crossnet.plotting import atomic_savefig, pyplot
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for k, name in enumerate(names):
        xs, ys, es = [], [], []
        for f in fractions:
            if table[f].get(name):
                m, s, _ = summarise(table[f][name])
                # small offsets keep the error bars apart
                xs.append(100 * f * (1 + 0.025 * (k - 4)))
                ys.append(m)
                es.append(s)
        style = "--" if name in BASELINES else "-"
        ax.errorbar(xs, ys, yerr=es, marker="o", ls=style, capsize=3,
                    label=name)
    ax.set_xscale("log")
    ax.set_xlabel("labelled training frames (%)")
    ax.set_ylabel("mean joint error on the test frames (mm)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=120)
    plt.close(fig)
    return path


def baselines(train_h5, test_h5, dataset, fraction, seed, validation_fraction):
    """Constant pose and ridge, fitted on the arm's labelled frames."""
    from crossnet.data.cache import CacheDataset
    from crossnet.evaluation.baselines import evaluate_baselines
    from crossnet.training.runner import TrainingData
    data = TrainingData(train_h5, dataset, fraction, seed,
                        validation_fraction=validation_fraction)
    try:
        with CacheDataset(test_h5) as test:
            return evaluate_baselines(data.cache, data.labelled, test)
    finally:
        data.cache.close()


def check_pools(train_h5, dataset, fractions, pools, validation_fraction):
    """Fail before any training when a fraction below 100 % has fewer
    unlabelled frames than the largest of ``pools`` asks for."""
    from crossnet.training.runner import TrainingData
    for f in fractions:
        if f >= 1 or not pools:
            continue
        data = TrainingData(train_h5, dataset, f, 0,
                            validation_fraction=validation_fraction)
        available = len(data.all) - len(data.labelled)
        data.cache.close()
        if max(pools) > available:
            raise SystemExit("%s: --unlabelled-frames %d, but %g %% labels "
                             "leave %d unlabelled training frames"
                             % (train_h5, max(pools), 100 * f, available))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "results/semi_supervised", standard=True)
    add_training_arguments(parser)
    parser.add_argument("--fractions", type=float, nargs="+",
                        help="labelled fractions (default: the scale's)")
    parser.add_argument("--seeds", type=int,
                        help="seeds at the lowest fraction (default: the "
                             "scale's, 1 or 3)")
    parser.add_argument("--only-seed", type=int,
                        help="train this seed's runs only (to split the "
                             "seeds over processes; a last run without it "
                             "assembles the table from the finished runs)")
    parser.add_argument("--unlabelled-frames", type=int, nargs="+",
                        default=[], metavar="K",
                        help="also run arm D with only K unlabelled frames "
                             "(each K, every fraction below 100 %%)")
    args = parser.parse_args(argv)
    if any(k < 0 for k in args.unlabelled_frames):
        parser.error("--unlabelled-frames must be >= 0")
    from crossnet.pipeline import run_arm, train_shared_gan, train_shared_vae

    t0 = time.perf_counter()
    dataset, train, test, st, described = experiment_setup(args)
    fractions = sorted(args.fractions or st["fractions"])
    budget = st["budget"]
    pools = sorted(set(args.unlabelled_frames))
    check_pools(train, dataset, fractions, pools, st["validation_fraction"])
    names = BASELINES + ARMS + [pool_arm_name(k) for k in pools]
    table = {f: {} for f in fractions}       # fraction -> name -> [errors]
    runs = []
    for seed in range(max(len(seeds_for(f, fractions, st, args.seeds))
                          for f in fractions)):
        if args.only_seed is not None and seed != args.only_seed:
            continue
        gan_dir = os.path.join(args.out, "runs", "seed%d" % seed, "shared_gan")
        train_shared_gan(gan_dir, dataset, train, budget, seed,
                         st["validation_fraction"], log=lambda *a: None)
        for f in fractions:
            if seed not in seeds_for(f, fractions, st, args.seeds):
                continue
            vae_dir = os.path.join(args.out, "runs", "seed%d" % seed,
                                   "%g" % f, "shared_vae")
            train_shared_vae(vae_dir, dataset, train, budget, f, seed,
                             st["validation_fraction"], log=lambda *a: None)
            base = baselines(train, test, dataset, f, seed,
                             st["validation_fraction"])
            for name in BASELINES:
                table[f].setdefault(name, []).append(base[name]["mean_error_mm"])
            fraction_dir = os.path.join(args.out, "runs", "seed%d" % seed,
                                        "%g" % f)
            todo = [(arm, arm, os.path.join(fraction_dir, arm.split()[0]),
                     gan_dir, {}) for arm in arms_at(f)]
            for k in pools_at(f, pools):
                pool_gan = os.path.join(fraction_dir, "shared_gan_u%d" % k)
                train_shared_gan(pool_gan, dataset, train, budget, seed,
                                 st["validation_fraction"],
                                 log=lambda *a: None, fraction=f,
                                 unlabelled_frames=k)
                todo.append((pool_arm_name(k), POOL_ARM,
                             os.path.join(fraction_dir, "D_u%d" % k), pool_gan,
                             {"unlabelled_frames": k}))
            for name, arm, run_dir, arm_gan, extra in todo:
                ev = run_arm(run_dir, arm, dataset, train, test, budget, f,
                             seed, st["validation_fraction"], arm_gan,
                             st["validate_every"], log=lambda *a: None,
                             shared_vae=vae_dir, **extra)
                table[f].setdefault(name, []).append(ev["mean_error_mm"])
                runs.append({"fraction": f, "seed": seed, "arm": name,
                             "mean_error_mm": ev["mean_error_mm"],
                             "updates": ev["updates"],
                             "planned_updates": ev["planned_updates"],
                             "best": ev["best"],
                             "labelled_frames": ev["labelled_frames"]})
                print("seed %d, labelled %5.1f%%, %-40s %.2f mm (checkpoint "
                      "%s, validation %.2f mm)" % (
                          seed, 100 * f, name, ev["mean_error_mm"],
                          ev["best"] and "%s@%d" % (ev["best"]["stage"],
                                                    ev["best"]["updates"]),
                          ev["best"]["mean_error_mm"] if ev["best"] else
                          float("nan")), flush=True)
    fig = plot(fractions, table, os.path.join(args.out, "semi_supervised.png"),
               names)
    rows = []
    for f in fractions:
        row = ["%g %%" % (100 * f)]
        for name in names:
            if table[f].get(name):
                m, s, n = summarise(table[f][name])
                row.append("%.2f ± %.2f (%d)" % (m, s, n) if n > 1
                           else "%.2f" % m)
            else:
                row.append("= D" if name.startswith("C ") and f == 1
                           else "-")
        rows.append(row)
    minutes = (time.perf_counter() - t0) / 60
    text = ("# Semi-supervised\n\nData: %s.\n\n%s\n\nMean joint error on the test frames (mm), mean ± "
            "sample standard deviation over (n) seeds; each seed draws its "
            "own labelled, validation and initial weights. Checkpoints "
            "chosen on the validation frames.\n\n%s\n\nFigure: %s\n\n"
            "Wall time: %.1f min.\n" % (
                described, describe_budget(budget),
                markdown_table(["labelled"] + names, rows), fig, minutes))
    write_text(os.path.join(args.out, "semi_supervised.md"), text)
    write_json(os.path.join(args.out, "semi_supervised.json"),
               {"data": described, "scale": st["scale"],
                "fractions": fractions, "budget": budget.as_dict(),
                "mean_error_mm": {str(f): table[f] for f in fractions},
                "runs": runs, "minutes": round(minutes, 2)})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
