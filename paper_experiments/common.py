"""Shared helpers of the paper_experiments scripts (paths, output, tables)."""
import json
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
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1)
    os.replace(tmp, path)


def write_text(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
