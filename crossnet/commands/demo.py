"""``crossnet demo``: everything on built-in synthetic data, no download."""
from ._common import fraction, positive_int
import json


def add_arguments(parser):
    parser.add_argument("--out", default="crossnet-demo",
                        help="run folder (default ./crossnet-demo); re-running "
                             "resumes it")
    from ..demo import DEMO_FRAMES
    parser.add_argument("--frames", type=positive_int, default=DEMO_FRAMES,
                        help="synthetic training frames, a tenth of them "
                             "for validation (default %d)" % DEMO_FRAMES)
    parser.add_argument("--test-frames", type=positive_int, default=300)
    parser.add_argument("--labelled-fraction", type=fraction, default=0.5,
                        help="fraction of training frames with labels "
                             "(default 0.5)")
    parser.add_argument("--seed", type=int, default=0)
    from ..demo import DEMO_LATENT
    from ..training.stages import LATENTS
    parser.add_argument("--latent", choices=LATENTS, default=DEMO_LATENT,
                        help="z_l of the labelled frames: the pose VAE's mean "
                             "or the authors' jittered 'sample' (default %s)"
                             % DEMO_LATENT)
    parser.add_argument("--quiet", action="store_true")


def run(args):
    from ..demo import run_demo
    summary = run_demo(args.out, args.frames, args.test_frames,
                       labelled_fraction=args.labelled_fraction, seed=args.seed,
                       latent=args.latent, progress=not args.quiet,
                       log=(lambda *a: None) if args.quiet else print)
    print(json.dumps({k: summary[k] for k in
                      ("wall_time_s", "mean_error_mm", "baselines_mm",
                       "render_mean_abs_error", "render_silhouette_iou",
                       "render_roughness", "real_roughness")}))
    print("report: %s/report.md" % args.out)
    return 0
