"""``crossnet estimate``: joints of a user's own depth frames."""
import os
import sys

import numpy as np

from ..conventions import BENCHMARK_DATASETS, CUBE_MM
from ._common import crop_size, positive_float


def _centre(text):
    import argparse
    try:
        u, v, d = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("--centre must be u,v,d (pixels, "
                                         "pixels, mm), got %r" % text)
    if d <= 0:
        raise argparse.ArgumentTypeError("--centre depth must be > 0 mm")
    return (u, v, d)


def add_arguments(parser):
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="depth frames: 16-bit PNG in mm, NYU RGB PNG, "
                             "MSRA .bin or .npy (H, W) in mm")
    parser.add_argument("--weights", required=True,
                        help="run folder or checkpoint folder")
    parser.add_argument("--dataset-config", required=True,
                        choices=BENCHMARK_DATASETS,
                        help="which network layout the weights have (joints, "
                             "root joint): the dataset they were trained on")
    parser.add_argument("--camera", required=True,
                        help="fx,fy,cx,cy in pixels, or a preset: icvl, nyu, "
                             "msra (those datasets' cameras)")
    parser.add_argument("--centre", type=_centre, action="append",
                        help="hand centre u,v,d (pixels, pixels, mm); once for "
                             "all images or once per image (default: centre "
                             "of mass of the nearest blob)")
    parser.add_argument("--cube", type=positive_float, default=CUBE_MM,
                        help="cube side in mm (default %g, as in training)"
                             % CUBE_MM)
    parser.add_argument("--image-size", type=crop_size, default=None,
                        help="crop size the weights were trained for "
                             "(default 128)")
    parser.add_argument("--out", default="estimate",
                        help="output prefix: PREFIX_uvd.txt, PREFIX_xyz.txt "
                             "(one line per estimated frame, public format) "
                             "and PREFIX.json (every frame, with messages)")
    parser.add_argument("--overlay", metavar="DIR",
                        help="write the skeleton over each crop as DIR/NNNN_<image>.png")


def run(args):
    from ..checkpoint import load_checkpoint, resolve_weights
    from ..data.skeletons import bones_for
    from ..estimate import camera_from_text, estimate_files
    from ..evaluation.pose_files import write_pose_file
    from ..evaluation.predict import benchmark_joints
    from ..fileio import atomic_write_json
    from ..networks import CrossingNet
    from ..plotting import plot_crops_with_skeleton

    intrinsics = camera_from_text(args.camera)
    centres = args.centre
    if centres is not None:
        if len(centres) == 1:
            centres = centres * len(args.images)
        elif len(centres) != len(args.images):
            raise ValueError("%d --centre for %d images: give one for all or "
                             "one per image" % (len(centres), len(args.images)))
    net = CrossingNet(args.dataset_config, args.image_size)
    load_checkpoint(net, resolve_weights(args.weights))
    results = estimate_files(net, args.images, intrinsics, centres, args.cube)
    done = [r for r in results if "error" not in r]
    frames = []
    for r in results:
        entry = {"image": r["image"]}
        if "error" in r:
            entry["error"] = r["error"]
            print("crossnet estimate: %s" % r["error"], file=sys.stderr)
        else:           # line of the frame in the pose files
            entry.update(line=1 + sum("line" in f for f in frames),
                         uvd=r["uvd"].tolist(), xyz_mm=r["xyz"].tolist(),
                         centre_xyz_mm=r["centre"].tolist())
        frames.append(entry)
    if args.overlay:
        bones = bones_for(net.config.num_joints)
        for k, (r, entry) in enumerate(zip(results, frames)):
            if "error" in r:
                continue
            # numbered: frames of several folders may share a file name
            name = "%04d_%s.png" % (k, os.path.splitext(
                os.path.basename(r["image"]))[0])
            entry["overlay"] = plot_crops_with_skeleton(
                r["crop"][None], r["crop_px"][None], bones,
                os.path.join(args.overlay, name), title=r["image"][-40:])
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    if done:
        for key in ("uvd", "xyz"):
            write_pose_file("%s_%s.txt" % (args.out, key), benchmark_joints(
                np.stack([r[key] for r in done]), args.dataset_config))
    atomic_write_json(args.out + ".json", {
        "weights": args.weights, "dataset_config": args.dataset_config,
        "camera_fx_fy_cx_cy": list(intrinsics), "cube_mm": args.cube,
        "xyz": "mm, y up (the authors' convention)", "frames": frames})
    print("estimated %d of %d frame(s); wrote %s.json%s"
          % (len(done), len(results), args.out,
             " and %s_uvd.txt, %s_xyz.txt" % (args.out, args.out) if done else ""))
    return 0 if done else 2
