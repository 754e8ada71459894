"""``crossnet render``: depth maps generated from ground-truth poses, as PNG."""
import os

from ._common import add_net_arguments, load_net, positive_int


def add_arguments(parser):
    add_net_arguments(parser)
    parser.add_argument("--gt", required=True,
                        help="poses, public benchmark format (u v d per joint)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--frames", type=positive_int, default=32,
                        help="render the first N frames (default 32)")
    parser.add_argument("--centre", choices=["root", "mean"], default="root")


def run(args):
    from ..evaluation.roundtrip import centre_joints, load_benchmark_joints
    from ..plotting import depth_grid, depth_to_image, save_png
    net = load_net(args)
    xyz = load_benchmark_joints(args.gt, net, args.frames)
    depths = net.render(net.encode_pose(
        centre_joints(xyz, net.config.root_joint, args.centre)))
    for i, d in enumerate(depths):
        save_png(os.path.join(args.out, "frame_%05d.png" % i), depth_to_image(d))
    grid = save_png(os.path.join(args.out, "grid.png"), depth_grid(depths))
    print("wrote %d depth maps and %s" % (len(depths), grid))
    return 0
