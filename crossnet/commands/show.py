"""``crossnet show``: a grid of cached crops with the skeleton overlaid."""
from ._common import positive_int


def add_arguments(parser):
    parser.add_argument("--data", required=True, help="cache FILE.h5")
    parser.add_argument("--out", required=True, help="output PNG")
    parser.add_argument("--frames", type=positive_int, default=32,
                        help="number of frames (default 32)")
    parser.add_argument("--seed", type=int, default=None,
                        help="pick random frames with this seed (default: "
                             "the first ones)")


def run(args):
    import numpy as np

    from ..data.cache import CacheDataset
    from ..data.preprocess import CropGeometry, denormalise_joints
    from ..data.skeletons import bones_for
    from ..plotting import plot_crops_with_skeleton
    with CacheDataset(args.data) as data:
        n = min(args.frames, len(data))
        idx = (np.arange(n) if args.seed is None else
               np.random.RandomState(args.seed).choice(len(data), n, False))
        b = data.read(idx, ("depth", "pose", "origin", "centre"))
        p = data.params
        xyz = denormalise_joints(b["pose"], b["origin"], b["centre"])
        px = np.stack([CropGeometry(c, p.camera, p.cube_mm, p.size).xyz_to_crop(j)
                       for c, j in zip(b["centre"], xyz)])
        path = plot_crops_with_skeleton(b["depth"], px, bones_for(xyz.shape[1]),
                                        args.out, title="%s (%s)" % (
                                            args.data, p.dataset))
    print("wrote %s" % path)
    return 0
