"""Arguments and helpers shared by several subcommands."""
import argparse
import os

from ..conventions import DATASETS


def positive_int(text):
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


def _int_at_least(text, low):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a whole number" % text)
    if value < low:
        raise argparse.ArgumentTypeError("must be >= %d, got %d" % (low, value))
    return value


def crop_size(text):
    """argparse type: a crop size in pixels, a power of two >= 32 (what the
    networks' five stride-2 layers need)."""
    value = positive_int(text)
    if value < 32 or value & (value - 1):
        raise argparse.ArgumentTypeError("must be a power of two >= 32, got %d"
                                         % value)
    return value


def _number(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not a number" % text)


def positive_float(text):
    """argparse type: a number > 0."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0, got %s" % text)
    return value


def fraction(text):
    """argparse type: a number in (0, 1]."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("must be in (0, 1], got %s" % text)
    return value


def add_net_arguments(parser, weights_required=True):
    parser.add_argument("--weights", required=weights_required,
                        default=os.environ.get("CROSSNET_WEIGHTS"),
                        help="a run folder (crossnet train --out) or a "
                             "checkpoint folder in the authors' layout "
                             "(-1_en_params.npz, ...), e.g. "
                             "../shared/reference/crossingnet_pretrained/ICVL")
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--image-size", type=crop_size, default=None,
                        help="crop size the weights were trained for "
                             "(default 128)")


def load_net(args):
    from ..checkpoint import load_checkpoint, resolve_weights
    from ..networks import CrossingNet
    net = CrossingNet(args.dataset, args.image_size)
    if args.weights:
        load_checkpoint(net, resolve_weights(args.weights))
    return net
