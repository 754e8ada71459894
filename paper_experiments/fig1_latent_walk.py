"""Fig. 1: a walk along the line between two latents of the shared space.

Two poses are encoded (pose VAE mean + root offset); points on the line
between the two latents are decoded to poses (skeletons, top row) and
rendered by Ali + generator to depth maps (bottom row), side by side. The
figure is qualitative in the paper; this script also prints the pose ->
depth -> pose loop error at every step, which shows that the two halves of
the shared space agree along the walk.

    python paper_experiments/fig1_latent_walk.py --quick          # authors' ICVL weights
    python paper_experiments/fig1_latent_walk.py --run runs/icvl  # plus crossnet's own run
"""
import argparse
import os

import numpy as np

import common  # noqa: F401
from common import add_common_arguments, markdown_table, reference_dir, write_json, write_text


def latent_walk(net, joints_a, joints_b, steps):
    """(poses (steps, J, 3) mm, depth (steps, S, S), loop error per step)."""
    z = net.encode_pose(np.stack([joints_a, joints_b]).astype("float32"))
    t = np.linspace(0, 1, steps)[:, None]
    walk = ((1 - t) * z[0] + t * z[1]).astype("float32")
    poses = net.decode_latent(walk)
    depth = net.render(walk)
    back = net.estimate(depth)
    loop = np.linalg.norm(back - poses, axis=-1).mean(axis=1)
    return poses, depth, loop


def plot_walk(rows, path):
    from crossnet.data.skeletons import bones_for
    from crossnet.plotting import atomic_savefig, depth_to_image, pyplot
    plt = pyplot()
    steps = len(rows[0][1])
    fig, axes = plt.subplots(2 * len(rows), steps,
                             figsize=(1.5 * steps, 3.1 * len(rows)), squeeze=False)
    for r, (label, poses, depth, _) in enumerate(rows):
        bones = bones_for(poses.shape[1])
        lim = np.abs(poses[..., :2]).max() * 1.1
        for k in range(steps):
            ax = axes[2 * r, k]
            p = poses[k]
            for a, b in bones:
                ax.plot([p[a, 0], p[b, 0]], [p[a, 1], p[b, 1]], "-", color="tab:blue")
            ax.plot(p[:, 0], p[:, 1], ".", color="tab:red", ms=3)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)       # y up (release convention)
            ax.set_aspect("equal")
            ax.axis("off")
            if k == 0:
                ax.set_title(label, fontsize=8, loc="left")
            axes[2 * r + 1, k].imshow(depth_to_image(depth[k]), cmap="gray")
            axes[2 * r + 1, k].axis("off")
    fig.suptitle("Fig. 1: walking the shared latent space "
                 "(top: decoded poses, bottom: generated depth)", fontsize=9)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, "results/fig1")
    parser.add_argument("--weights", help="run or checkpoint folder (default: the "
                        "authors' ICVL weights from the reference folder)")
    parser.add_argument("--run", action="append", default=[],
                        help="crossnet run folder(s) to walk as well "
                             "(ICVL layout: icvl or synthetic runs)")
    parser.add_argument("--gt", help="poses to pick from, public format "
                        "(default: the ICVL test ground truth)")
    parser.add_argument("--frames", type=int, nargs=2, default=[0, 900],
                        help="indices of the two end poses (default 0 900)")
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args(argv)

    from crossnet.checkpoint import (load_checkpoint, read_run_config,
                                     resolve_weights)
    from crossnet.evaluation.roundtrip import centre_joints, load_benchmark_joints
    from crossnet.networks import CrossingNet

    ref = reference_dir(args.reference)
    weights = args.weights or (ref and os.path.join(
        ref, "crossingnet_pretrained", "ICVL"))
    gt = args.gt or (ref and os.path.join(
        ref, "handpose_eval", "groundtruth", "icvl", "icvl_test_groundtruth_label.txt"))
    if not gt:
        raise SystemExit("fig1: no poses to walk between: give --gt (public "
                         "format, ICVL 16 joints) or --reference")
    models = []
    if weights:
        models.append(("authors' ICVL weights", weights, "icvl", None))
    for run in args.run:
        cfg = read_run_config(run)
        from crossnet.data.cache import CacheDataset
        with CacheDataset(cfg["data"]) as data:
            size = data.params.size
        models.append(("crossnet run %s" % run, resolve_weights(run),
                       cfg["dataset"], size))
    if not models:
        raise SystemExit("fig1: no model: give --weights, --run or --reference")
    rows, table = [], []
    for label, folder, dataset, size in models:
        net = CrossingNet(dataset, size)
        load_checkpoint(net, resolve_weights(folder))
        joints = centre_joints(load_benchmark_joints(gt, net), net.config.root_joint)
        a, b = args.frames
        if max(a, b) >= len(joints):
            raise SystemExit("fig1: --frames %d %d outside the %d poses of %s"
                             % (a, b, len(joints), gt))
        poses, depth, loop = latent_walk(net, joints[a], joints[b], args.steps)
        rows.append((label, poses, depth, loop))
        table.append([label] + ["%.1f" % v for v in loop])
    fig = plot_walk(rows, os.path.join(args.out, "fig1_latent_walk.png"))
    header = ["model"] + ["t=%.2f" % t for t in np.linspace(0, 1, args.steps)]
    text = ("# Fig. 1 latent walk\n\nPaper: Fig. 1 (qualitative, no number). "
            "crossnet: pose -> depth -> pose loop error (mm) along the walk "
            "between frames %d and %d of %s:\n\n%s\n\nFigure: %s\n"
            % (args.frames[0], args.frames[1], gt, markdown_table(header, table), fig))
    write_text(os.path.join(args.out, "fig1.md"), text)
    write_json(os.path.join(args.out, "fig1.json"),
               {"rows": [{"model": r[0], "loop_error_mm": r[3].tolist()} for r in rows]})
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
