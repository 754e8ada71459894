"""Arguments and helpers shared by several subcommands."""
import os

from ..conventions import DATASETS


def add_net_arguments(parser, weights_required=True):
    parser.add_argument("--weights", required=weights_required,
                        default=os.environ.get("CROSSNET_WEIGHTS"),
                        help="a run folder (crossnet train --out) or a "
                             "checkpoint folder in the authors' layout "
                             "(-1_en_params.npz, ...), e.g. "
                             "../shared/reference/crossingnet_pretrained/ICVL")
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--image-size", type=int, default=None,
                        help="crop size the weights were trained for "
                             "(default 128)")


def load_net(args):
    from ..checkpoint import load_checkpoint, resolve_weights
    from ..networks import CrossingNet
    net = CrossingNet(args.dataset, args.image_size)
    if args.weights:
        load_checkpoint(net, resolve_weights(args.weights))
    return net
