"""The ``crossnet`` command line: ``crossnet SUBCOMMAND --help``.

Each subcommand is a module of :mod:`crossnet.commands` with
``add_arguments(parser)`` and ``run(args)``; this file only wires them to
argparse. Building the parser imports every command module (each imports
its heavy dependencies inside ``run``), and ``crossnet`` itself imports
aesara, so even ``--help`` takes a second or two.
"""
import argparse
import importlib
import sys

# name -> (module, help). Each module has add_arguments(parser) and run(args).
SUBCOMMANDS = {
    "check": ("crossnet.commands.check",
              "compile a small conv/deconv/batch-norm network and report the "
              "aesara set-up (proves the stack works)"),
    "roundtrip": ("crossnet.commands.roundtrip",
                  "VAE encode->decode and pose->depth->pose loop errors (mm) "
                  "of a checkpoint on ground-truth poses"),
    "render": ("crossnet.commands.render",
               "render depth maps from poses through Ali and the generator "
               "(PNG files and a grid)"),
    "evaluate": ("crossnet.commands.evaluate",
                 "mean joint error, per-joint error and success-rate curves of "
                 "prediction files against ground truth (public format)"),
    "prepare": ("crossnet.commands.prepare",
                "preprocess a dataset split (original files or built-in "
                "synthetic hands) into a resumable HDF5 cache"),
    "show": ("crossnet.commands.show",
             "draw cached crops with their skeletons (PNG grid)"),
    "train": ("crossnet.commands.train",
              "train Crossing Nets stages (or the supervised baseline) with "
              "checkpoints, logs and --resume"),
    "predict": ("crossnet.commands.predict",
                "write a model's predictions on a cache in the public "
                "benchmark format"),
    "demo": ("crossnet.commands.demo",
             "the main job on built-in synthetic data: prepare, train all "
             "stages and a supervised baseline, evaluate, report"),
    "estimate": ("crossnet.commands.estimate",
                 "estimate joints on your own depth frames (PNG, NYU PNG, "
                 "MSRA .bin, .npy) with a trained model"),
    "benchmark": ("crossnet.commands.benchmark",
                  "time the posterior path (the paper's 90 fps claim) on this "
                  "CPU"),
}


def _user_errors():
    """Exception types that are the user's to fix (printed without a
    traceback): bad files, data, checkpoints, locked outputs, arguments."""
    from .checkpoint import CheckpointError
    from .data.common import DataError
    from .fileio import LockedError
    from .training.runner import TrainingError
    return (CheckpointError, DataError, LockedError, TrainingError,
            FileNotFoundError, ValueError, OSError)


USER_ERRORS = _user_errors()


def build_parser():
    parser = argparse.ArgumentParser(
        prog="crossnet",
        description="Crossing Nets (Wan et al., CVPR 2017): hand pose "
                    "estimation with a shared VAE/GAN latent space, on aesara.")
    parser.add_argument("--version", action="store_true",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print("crossnet", __version__)
        return 0
    if not args.command:
        parser.print_help()
        return 2
    try:
        return importlib.import_module(args._module).run(args) or 0
    except USER_ERRORS as exc:
        # a user can fix these: one line naming the file and the problem
        print("crossnet %s: error: %s" % (args.command, exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crossnet %s: interrupted" % args.command, file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
