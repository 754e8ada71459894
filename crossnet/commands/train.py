"""``crossnet train``: run training stages with checkpoints and resume."""
import json
import sys

from ..conventions import DATASETS
from ._common import fraction, non_negative_int, positive_int
from ..training.schedules import STAGE_SETS, STAGES


def add_arguments(parser):
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--data", required=True, help="training cache FILE.h5 "
                        "(from crossnet prepare)")
    parser.add_argument("--stage", default="all",
                        choices=list(STAGES) + ["all"],
                        help="'all' = vae, gan, align, cross (the paper); "
                             "'supervised' = the baseline (needs a trained vae "
                             "in the same run, or runs vae first)")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--epochs", type=non_negative_int,
                        help="epochs of every stage (default: the paper's "
                             "per stage)")
    parser.add_argument("--batch-size", type=positive_int,
                        help="batch size of every stage (default: paper's)")
    parser.add_argument("--labelled-fraction", type=fraction, default=1.0,
                        help="fraction of training frames whose labels are "
                             "used (default 1.0); the rest feed the GAN terms")
    parser.add_argument("--validation-fraction", type=float, default=0.0,
                        help="fraction of training frames held out with "
                             "their labels to choose the checkpoint (default "
                             "0: the paper trains on all and keeps the last)")
    parser.add_argument("--validate-every", type=positive_int, default=500,
                        help="updates between validations (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=positive_int, default=1,
                        help="epochs between checkpoints (default 1)")
    parser.add_argument("--max-batches", type=positive_int, default=None,
                        help="cap on batches per epoch (quick runs)")
    parser.add_argument("--generator-loss", default="feature_matching",
                        choices=["feature_matching", "logd"],
                        help="stage 2 G loss: release's feature matching "
                             "(default) or the paper's -log D")
    parser.add_argument("--quick", action="store_true",
                        help="small schedule for a laptop (same losses)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its checkpoint")
    parser.add_argument("--test-data", help="test cache: report the mean joint "
                        "error at the end")
    parser.add_argument("--quiet", action="store_true")


def run(args):
    from ..training.runner import (Trainer, TrainingInterrupted, make_config)
    stages = {"all": STAGE_SETS["crossing_nets"],
              "supervised": STAGE_SETS["supervised"]}.get(args.stage,
                                                          [args.stage])
    config = make_config(args.dataset, args.data, stages, args.quick, args.seed,
                         args.labelled_fraction, args.epochs, args.batch_size,
                         args.checkpoint_every, args.max_batches,
                         args.generator_loss, args.test_data,
                         validation_fraction=args.validation_fraction,
                         validate_every=args.validate_every)
    trainer = Trainer(config, args.out, resume=args.resume,
                      progress=not args.quiet)
    try:
        throughput = trainer.run()
        result = {"run": args.out, "frames_per_s": throughput,
                  "model": "%s/model" % args.out,
                  "chosen_checkpoint": trainer.state.get("best")}
        if args.test_data:
            from ..data.cache import CacheDataset
            from ..evaluation.predict import evaluate_cache
            with CacheDataset(args.test_data,
                              expected=trainer.data.params) as test:
                ev = evaluate_cache(trainer.net, test)
            result["test_mean_error_mm"] = ev["mean_error_mm"]
    except TrainingInterrupted as exc:
        print("crossnet train: %s" % exc, file=sys.stderr)
        return 128 + int(exc.signum)        # 130 for Ctrl-C, 143 for SIGTERM
    finally:
        trainer.close()
    print(json.dumps(result))
    return 0
