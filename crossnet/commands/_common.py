"""Arguments and helpers shared by several subcommands."""
import os


def add_net_arguments(parser, weights_required=True):
    parser.add_argument("--weights", required=weights_required,
                        default=os.environ.get("CROSSNET_WEIGHTS"),
                        help="checkpoint folder in the authors' layout "
                             "(-1_en_params.npz, ...), e.g. "
                             "../shared/reference/crossingnet_pretrained/ICVL")
    parser.add_argument("--dataset", required=True,
                        choices=["icvl", "nyu", "msra", "synthetic"])
    parser.add_argument("--image-size", type=int, default=None,
                        help="crop size the weights were trained for "
                             "(default 128)")


def load_net(args):
    from ..checkpoint import load_checkpoint
    from ..networks import CrossingNet
    net = CrossingNet(args.dataset, args.image_size)
    if args.weights:
        load_checkpoint(net, args.weights)
    return net
