"""``crossnet predict``: predictions in the public benchmark format."""


def add_arguments(parser):
    parser.add_argument("--weights", required=True,
                        help="run folder (uses its checkpoint/) or a "
                             "checkpoint folder in the authors' layout")
    parser.add_argument("--data", required=True, help="test cache FILE.h5")
    parser.add_argument("--out", required=True, help="predictions .txt "
                        "(one line per frame, u v d per joint)")
    parser.add_argument("--training-graph", action="store_true",
                        help="estimate with the training graph (batch norm as "
                             "layers, aesara CorrMM) instead of the folded "
                             "fast path (the two agree to 1e-4 x 50 mm)")


def run(args):
    from ..checkpoint import load_checkpoint, resolve_weights
    from ..data.cache import CacheDataset
    from ..evaluation.pose_files import write_pose_file
    from ..evaluation.predict import predicted_uvd
    from ..networks import CrossingNet
    with CacheDataset(args.data) as data:
        net = CrossingNet(data.params.dataset, data.params.size)
        load_checkpoint(net, resolve_weights(args.weights))
        uvd = predicted_uvd(net, data, fast=not args.training_graph)
    write_pose_file(args.out, uvd)
    print("wrote %d frames x %d joints to %s" % (uvd.shape[0], uvd.shape[1],
                                                 args.out))
    return 0
