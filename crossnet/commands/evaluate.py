"""``crossnet evaluate``: compare prediction files with ground truth."""
import json

from ..conventions import BENCHMARK_DATASETS


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, choices=BENCHMARK_DATASETS)
    parser.add_argument("--gt", required=True,
                        help="ground truth, public format (u v d per joint)")
    parser.add_argument("--pred", required=True, action="append",
                        help="predictions, same format (repeat for several)")
    parser.add_argument("--name", action="append",
                        help="method name per --pred (default: file name)")
    parser.add_argument("--out", help="folder for curves, bars and report.md")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list, one object per --pred")


def run(args):
    from ..evaluation.report import compare_files, table, write_report
    results = compare_files(args.dataset, args.gt, args.pred, args.name)
    if args.out:
        write_report(results, args.dataset, args.gt, args.out)
    if args.json:
        keep = ("name", "frames", "mean_error_mm", "per_joint_mm",
                "max_error_curve")
        print(json.dumps([{k: r[k] for k in keep} for r in results]))
    else:
        print(table(results))
        if args.out:
            print("figures and report.md written to %s" % args.out)
    return 0
