"""``crossnet prepare``: preprocess a dataset split into an HDF5 cache."""
from ._common import crop_size, positive_float, positive_int
from ..conventions import CENTRE_METHODS, CUBE_MM, DATASETS, IMAGE_SIZE


def add_arguments(parser):
    parser.add_argument("--dataset", required=True,
                        choices=DATASETS)
    parser.add_argument("--data-dir", help="dataset root in its original layout "
                        "(not needed for synthetic)")
    parser.add_argument("--split", choices=["train", "test"], default="train")
    parser.add_argument("--out", required=True, help="output FILE.h5")
    parser.add_argument("--size", type=crop_size, default=IMAGE_SIZE,
                        help="crop size in pixels (default %d)" % IMAGE_SIZE)
    parser.add_argument("--cube", type=positive_float, default=CUBE_MM,
                        help="cube side in mm (default %g)" % CUBE_MM)
    parser.add_argument("--centre", choices=CENTRE_METHODS,
                        help="hand centre: centre of mass of the nearest blob "
                             "(ICVL/MSRA default), NYU's centre file (NYU "
                             "default), or the joints' mean")
    parser.add_argument("--centres", help="NYU centre file center_uvd_<split>"
                        ".mat (default: $CROSSNET_REFERENCE/nyu_centers/)")
    parser.add_argument("--no-rotations", action="store_true",
                        help="ICVL: drop the rotated training copies")
    parser.add_argument("--test-subject", default="P0",
                        help="MSRA: subject left out for testing (P0..P8)")
    parser.add_argument("--frames", type=positive_int, default=1000,
                        help="synthetic: number of frames (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic: seed")
    parser.add_argument("--poses", help="synthetic: render these poses instead "
                        "(public format, ICVL 16 joints, e.g. the ICVL test "
                        "ground truth)")
    parser.add_argument("--on-bad", choices=["skip", "fail"], default="skip",
                        help="frames with NaN or empty depth: skip with a "
                             "counted warning (default) or fail")
    parser.add_argument("--overwrite", action="store_true",
                        help="start again even if OUT exists or is partial")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args):
    from ..camera import camera_for
    from ..data.cache import write_cache
    from ..data.sources import open_source
    poses = None
    if args.poses:
        from ..evaluation.pose_files import read_pose_file
        poses = camera_for("icvl").uvd_to_xyz(read_pose_file(args.poses, 16))
    source = open_source(args.dataset, args.data_dir, args.split, args.size,
                         args.cube, args.centre, args.centres,
                         not args.no_rotations, args.test_subject, args.frames,
                         args.seed, poses)
    result = write_cache(args.out, source, args.split, on_bad=args.on_bad,
                         overwrite=args.overwrite, progress=not args.quiet)
    state = ("already complete" if result["already_complete"] else
             "resumed and completed" if result["resumed"] else "written")
    print("%s: %d frames (%d skipped), %s" % (result["path"], result["frames"],
                                             result["skipped"], state))
    return 0
