"""Shared helpers of the paper_experiments scripts (paths, output, tables)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:     # run as `python paper_experiments/x.py` from a checkout
    sys.path.insert(0, ROOT)


def reference_dir(path=None):
    """The authors' reference data: --reference, $CROSSNET_REFERENCE, or
    ../shared/reference beside the repository; None if none exists."""
    for cand in (path, os.environ.get("CROSSNET_REFERENCE"),
                 os.path.join(ROOT, "..", "shared", "reference")):
        if cand and os.path.isdir(cand):
            return os.path.abspath(cand)
    return None


def add_common_arguments(parser, default_out):
    parser.add_argument("--quick", action="store_true",
                        help="small setting on built-in synthetic data "
                             "(minutes on 2 cores)")
    parser.add_argument("--out", default=default_out, help="output folder")
    parser.add_argument("--reference", help="folder with the authors' "
                        "reference data (default: $CROSSNET_REFERENCE or "
                        "../shared/reference)")


def write_json(path, obj):
    from crossnet.fileio import atomic_write_json
    return atomic_write_json(path, obj)


def write_text(path, text):
    from crossnet.fileio import atomic_write_text
    return atomic_write_text(path, text)


def markdown_table(header, rows):
    from crossnet.evaluation.report import markdown_table as table
    return table(header, rows)


def add_training_arguments(parser):
    from crossnet.conventions import DATASETS
    parser.add_argument("--dataset", default="synthetic", choices=DATASETS)
    parser.add_argument("--train-data", help="training cache (crossnet "
                        "prepare); full mode")
    parser.add_argument("--test-data", help="test cache; full mode")
    parser.add_argument("--seed", type=int, default=0)


def experiment_data(args):
    """(dataset, train cache, test cache, schedule, data description)."""
    from crossnet.pipeline import synthetic_caches
    from crossnet.training.schedules import schedule
    if args.quick:
        train, test = synthetic_caches(os.path.join(args.out, "data"), 600, 150,
                                       64, args.seed, progress=False)
        return ("synthetic", train, test, schedule("experiments-quick"),
                "built-in synthetic hands, 600 train / 150 test frames, 64x64, "
                "quick schedule")
    if not (args.train_data and args.test_data):
        raise SystemExit("full mode needs --train-data and --test-data (caches "
                         "from `crossnet prepare`), or use --quick")
    return (args.dataset, args.train_data, args.test_data, schedule("paper"),
            "%s caches %s / %s, paper schedule" % (args.dataset, args.train_data,
                                                   args.test_data))
