"""``crossnet roundtrip``: VAE and pose->depth->pose loop errors of weights."""
import json

from ._common import add_net_arguments, load_net, positive_int


def add_arguments(parser):
    add_net_arguments(parser)
    parser.add_argument("--gt", required=True,
                        help="ground-truth poses, public benchmark format "
                             "(one line per frame, u v d per joint)")
    parser.add_argument("--frames", type=positive_int, default=None,
                        help="use the first N frames (default: all)")
    parser.add_argument("--centre", choices=["root", "mean"], default="root",
                        help="crop centre: the root joint (root offset 0, "
                             "default) or the mean of the joints")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object")


def run(args):
    from ..evaluation.roundtrip import (centre_joints, load_benchmark_joints,
                                        roundtrip_errors)
    net = load_net(args)
    xyz = load_benchmark_joints(args.gt, net, args.frames)
    joints = centre_joints(xyz, net.config.root_joint, args.centre)
    result, _ = roundtrip_errors(net, joints)
    if args.json:
        print(json.dumps(result))
    else:
        print("frames                      %d" % result["frames"])
        print("VAE encode->decode          %.3f mm" % result["vae_mean_error_mm"])
        print("pose->depth->pose loop      %.3f mm" % result["loop_mean_error_mm"])
    return 0
