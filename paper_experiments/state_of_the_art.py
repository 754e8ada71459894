"""Comparison with the state of the art on the public test sets (ICVL, NYU).

Evaluates the published predictions in the public evaluation collection
(``../shared/reference/handpose_eval/results/<dataset>/``) and crossnet's own
predictions (``--pred``, from ``crossnet predict``, or ``--run`` with
``--test-data``) with the same code as ``crossnet evaluate``: success-rate
curves, per-joint bars and a mean-error table, with the published numbers
beside the ones computed here.

    python paper_experiments/state_of_the_art.py --quick
    python paper_experiments/state_of_the_art.py --dataset nyu --pred nyu_crossnet.txt
"""
import argparse
import glob
import os

import common  # noqa: F401
from common import (add_common_arguments, markdown_table, reference_dir,
                    write_json, write_text)

# Published mean errors of these files (SPEC section 7), mm
PUBLISHED = {
    "nyu": {"CVWW15_NYU_Prior": 20.750, "CVWW15_NYU_Prior-Refinement": 19.726,
            "IJCAI16_NYU_DeepModel": 17.036, "ICCV15_NYU_Feedback": 15.973,
            "ICIP17_NYU_Guo_Basic": 14.588, "CVPR18_NYU_V2V_PoseNet": 8.419},
    "icvl": {},
}
# Crossing Nets in the literature (the release writes no prediction file)
CROSSING_NETS_PAPER = {"nyu": 15.5, "icvl": 10.2, "msra": 12.2}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "results/state_of_the_art")
    parser.add_argument("--dataset", action="append", choices=("icvl", "nyu"),
                        help="dataset(s) (default: both)")
    parser.add_argument("--pred", action="append", default=[],
                        help="crossnet predictions (public format) for the "
                             "(single) --dataset")
    parser.add_argument("--run", help="crossnet run folder to predict with")
    parser.add_argument("--test-data", help="test cache for --run")
    args = parser.parse_args(argv)
    from crossnet.evaluation.report import compare_files, write_report

    ref = reference_dir(args.reference)
    if not ref:
        raise SystemExit("state_of_the_art: the public ground truth and "
                         "predictions are needed (--reference or "
                         "$CROSSNET_REFERENCE)")
    datasets = args.dataset or ["icvl", "nyu"]
    own = list(args.pred)
    if args.run:
        if len(datasets) != 1 or not args.test_data:
            raise SystemExit("--run needs one --dataset and --test-data")
        from crossnet import cli
        path = os.path.join(args.out, "crossnet_%s.txt" % datasets[0])
        if cli.main(["predict", "--weights", args.run, "--data", args.test_data,
                     "--out", path]) != 0:
            raise SystemExit("prediction failed")
        own.append(path)
    if own and len(datasets) != 1:
        raise SystemExit("--pred / --run need exactly one --dataset")
    summary = {}
    sections = []
    for ds in datasets:
        gt = os.path.join(ref, "handpose_eval", "groundtruth", ds,
                          "%s_test_groundtruth_label.txt" % ds)
        preds = sorted(glob.glob(os.path.join(ref, "handpose_eval", "results",
                                              ds, "*.txt"))) + own
        results = compare_files(ds, gt, preds)
        files = write_report(results, ds, gt, os.path.join(args.out, ds))
        rows = []
        for r in results:
            pub = PUBLISHED[ds].get(r["name"])
            rows.append([r["name"], r["frames"], "%.3f" % r["mean_error_mm"],
                         "%.3f" % pub if pub is not None else "-"])
        rows.append(["Crossing Nets (paper)", "-", "-",
                     "about %.1f" % CROSSING_NETS_PAPER[ds]])
        sections.append("## %s\n\n%s\n\nFigures: %s\n" % (
            ds.upper(), markdown_table(["method", "frames", "crossnet (mm)",
                                        "published (mm)"], rows),
            ", ".join(files.values())))
        summary[ds] = {r["name"]: r["mean_error_mm"] for r in results}
    text = "# State of the art\n\n" + "\n".join(sections)
    write_text(os.path.join(args.out, "state_of_the_art.md"), text)
    write_json(os.path.join(args.out, "state_of_the_art.json"), summary)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
