"""``crossnet demo``: the whole pipeline on built-in synthetic hands.

Reduced from the paper's setting so that it runs in about 10 minutes on 2
cores from an empty compile cache: 64x64 crops instead of 128x128,
``DEMO_FRAMES`` training frames (a tenth held out with labels to choose
checkpoints) and 300 test frames, and the budget of ``DEMO_UPDATES``
(updates per stage).
Losses, learning rates, optimiser and architecture (apart from the crop
size) are the paper's, but 3a's and the supervised network's learning rate
steps to a tenth after 1,000 updates; the GAN's generator loss is the
paper's -log D rather than the release's feature matching; stage 3b's
generator step is L_recons (squared error, not clipped) + L_smo, without
L_FM; stage 3a trains the generator on L_recons beside Ali (see
``DEMO_OPTIONS``); z_l is the pose VAE's mean, not the authors' jittered
code (``DEMO_LATENT``). One GAN
pretraining on all frames, then Crossing Nets (all frames) and the
supervised posterior network from scratch at the same budget
(:mod:`crossnet.pipeline`). The run folder gets the
checkpoints, loss curves, depth maps rendered from test poses beside the
real crops, success-rate curves of both networks and the baselines, and
``report.md``.
"""
import os
import time

import numpy as np

from .conventions import UNIT_MM
from .fileio import atomic_write_json, atomic_write_text
from .evaluation.report import markdown_table
from .pipeline import synthetic_caches
from .checkpoint import RUN_LOG
from .training.runner import read_log
from .training.schedules import schedule as named_schedule
from .training.stages import FEATURE_MATCHING_WEIGHT, RECONS_CLIP

__all__ = ["run_demo", "loss_series", "plot_losses", "render_error",
           "roughness", "DEMO_FRAMES", "DEMO_UPDATES", "DEMO_OPTIONS"]


def loss_series(run_dirs):
    """{stage: {term: (updates, values)}} from the logs of ``run_dirs`` (in
    order; a stage logged by several runs keeps the first's): each epoch's
    mean of each term at the stage's update count at the end of that epoch
    (a term missing from some epochs, e.g. renamed in a resumed run, has
    fewer points)."""
    series, done = {}, {}
    for run_dir in run_dirs:
        owned = set()
        for e in read_log(run_dir):
            name = e["stage"]
            if name in series and name not in owned:
                continue
            owned.add(name)
            done[name] = done.get(name, 0) + e["batches"]
            terms = series.setdefault(name, {})
            for term, value in e["losses"].items():
                updates, values = terms.setdefault(term, ([], []))
                updates.append(done[name])
                values.append(value)
    return series


def plot_losses(run_dirs, path, columns=3):
    """One panel per stage of ``run_dirs`` (:func:`loss_series`), every
    loss term against the stage's updates."""
    from .plotting import atomic_savefig, pyplot
    plt = pyplot()
    series = loss_series(run_dirs)
    if not series:
        raise ValueError("no training log (%s) in %s"
                         % (RUN_LOG, ", ".join(run_dirs)))
    cols = min(columns, len(series))
    rows = -(-len(series) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows),
                             squeeze=False)
    for ax, (stage, terms) in zip(axes.flat, series.items()):
        for term, (updates, values) in terms.items():
            ax.plot(updates, values, marker=".", label=term)
        ax.set_title("stage %s" % stage)
        ax.set_xlabel("updates")
        ax.set_ylabel("loss (epoch mean)")
        positive = all(v > 0 for _, values in terms.values()
                       for v in values)
        if positive:
            ax.set_yscale("log")
        else:          # a term at 0 (e.g. L_FM of identical batches)
            ax.set_yscale("symlog", linthresh=1e-2)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(series):]:
        ax.set_visible(False)
    fig.tight_layout()
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)
    return path


# The demo's budget (updates per stage, crossnet.pipeline.Budget), tuned
# for about 10 minutes on 2 cores from an empty compile cache: 64x64 crops,
# batch 50 (GAN 25, VAE 100; the paper: 128x128, batch 100-200, about 100x
# more updates). Seconds per update at this size (timing.py --train-step,
# 2 cores, eleventh session): GAN 0.102 at batch 50 (0.053 at 25), 3a
# 0.078, 3b 0.323, supervised 0.023, VAE 0.0011 (on the slower Zen 4 of
# the twenty-fifth session, GAN 0.064 at 25 with two compiled steps, 0.058
# with one: gan_stage(fused=True), the same bits). Synthetic frames cost
# 1.35 ms each on one core of the Zen 4 of the twenty-sixth session (1.9
# before its speed-up with the same bits); rendered on both and streamed
# to the file, the demo's 20,300 take 18-19 s. Both arms take one pose
# VAE (trained once), and they validate every 200 updates (about 1 s each).
# Chosen on the validation frames (test numbers beside them for reference;
# one GAN, seed 0, 20,000 frames):
# * stage 3a (heads on frozen GAN features, lr 1e-2) buys more per second
#   than 3b (lr 1e-3), and 3b levels off after about 300 updates: 3a 1,000
#   + 3b 200 gave 16.34 mm on validation (16.49 test), 3a 400 + 3b 400
#   17.36 (with 10,000 frames);
# * a step of 3a's learning rate to a tenth after 700 of 1,000 updates:
#   16.04 (16.11); 1,400 updates with the step at 1,000 and 3b 100: 15.46
#   (15.66). 3b then no longer lowers the validation error, so the chosen
#   checkpoint is the end of 3a; the supervised network gets the same step
#   (a tenth after 1,000 of its 1,500 updates);
# * the GAN at batch 25 for 3,000 updates instead of 50 for 1,500 (same
#   time): smoother samples, crossing nets 15.30 (15.45).
# The pose VAE bounds every network's error (poses are decoded from its
# latent): its reconstruction error on held-out poses, trained on the
# demo's 4,500 labelled poses, is 8.5 mm after 3,000 updates, 4.7 after
# 12,000, 4.3 after 24,000, 4.2 after 48,000.
# The GAN uses the paper's generator loss, -log D(G(z)), instead of the
# release's feature matching (SPEC section 3 lists both): measured on the
# demo's frames at batch 50, feature matching draws structureless blobs at
# 800 updates and collapses to about four arm shapes by 10,000; -log D draws
# varied arms with fingers by 1,500 updates (samples' mean pairwise |x - x'|
# 0.21 at 1,500, real frames 0.25).
# Stage 3b's generator step leaves out L_FM and does not clip L_recons
# (seventeenth session, paper_experiments/README.md; validation frames,
# from the 3a checkpoint of 1,400 updates, 3b 600 updates):
# * with the release's step (L_FM + clipped L_recons + L_smo), the renders
#   stay speckled (roughness 0.30 against 0.03 for real crops) and 3b does
#   not lower the validation error (15.52 mm at the end of 3a);
# * with L_recons (squared error) + L_smo, the D step unchanged: smooth
#   renders (roughness 0.08, |render - real| 0.48 against 0.55) and 3b
#   lowers the validation error to 15.27. Any weight on L_FM adds speckle
#   (0.03: roughness 0.12, 0.1: 0.15, 1: 0.30, with D frozen); the clip
#   keeps fingers drawn as background (error > 1) from learning;
# * 3b at lr 2e-3 instead of 1e-3: worse on both (3a 1,000 + 3b 500:
#   16.06 mm against 15.84, |render - real| 0.53 against 0.52);
# * 3b's 300 updates (what 10 minutes leave): 15.39 mm, |render - real|
#   0.59; at batch 25 for 600 updates (the same time): 15.52 (3a chosen),
#   0.53. Cutting the GAN to 2,000 updates to make room for 3b 500 made
#   the end of 3a worse (16.51 mm against 15.52) and the demo's crossing
#   nets 16.66 mm on the test frames.
# z_l is the VAE mean, not the authors' mu + sigma * N(0, 0.05^2)
# (``DEMO_LATENT``; both arms, so their L_pos targets are the same). With
# this VAE (sigma about 1, mu's spread about 0.16 per dimension) the
# jitter is about 30 % of the codes' spread, and a generator trained on
# L_recons learns the jittered codes' average depth: a fresh generator,
# 2,000 updates, renders |render - real| 0.42 with the jitter against 0.32
# with the mean (sharper fingers). Alone, at 3b's 300 updates, the mean
# gains little (eighteenth session, seeds 0 / 1, validation mm: crossing
# nets 15.40 / 15.04 against 15.39 / 15.28, supervised 16.21 / 16.28
# against 16.30 / 16.37; |render - real| 0.54 against 0.59 on seed 0).
# Stage 3a also trains the generator on L_recons beside Ali, at 3b's
# learning rate 1e-3 (stage option generator_lr; the paper freezes it,
# but the GAN draws no hands at this budget, so Ali alone cannot render
# them). 3a's posterior and metric heads do not see the generator's
# gradient, so its pose error is unchanged; a 3a update costs about 15 %
# more. Nineteenth session, seed 0, validation frames, 3b 300 (validation
# mm, test mm, |render - real|, IoU): as before 15.39, 15.63, 0.58, 0.48;
# generator in 3a 15.42, 15.65, 0.50, 0.54 (0.47, 0.66 at the end of 3a:
# sharp arm-and-mitten shapes, which 3b blurs); with the mean as well
# 15.40, 15.56, 0.39, 0.58 (spread fingers in some renders). 3a's clipped
# L_recons gives fingers drawn as background no gradient (sharp mittens);
# 3b's plain one pulls them in, blurred; the plain one in 3a as well
# (twenty-sixth session, seed 0, validation frames: 15.39 mm, |render -
# real| 0.402, IoU 0.573, against 15.40, 0.390, 0.575) is no better, so
# 3a keeps the release's clip. The generator at 1e-4 in 3b keeps more of
# 3a's silhouette but renders worse (twentieth session,
# seeds 0 / 1: |render - real| 0.38 / 0.42 against 0.37 / 0.39, IoU
# 0.63 / 0.67 against 0.56 / 0.60, pose the same), so 3b keeps 1e-3.
DEMO_LATENT = "mean"
DEMO_FRAMES = 20000
DEMO_UPDATES = {"vae": 12000, "gan": 3000, "align": 1400, "cross": 300}
DEMO_BATCH = {"default": 50, "vae": 100, "gan": 25}
DEMO_OPTIONS = {"gan": {"generator_loss": "logd"},
                "align": {"lr_decay": 0.1, "decay_every": 1000,
                          "generator_lr": 1e-3},
                "cross": {"recons_clip": None, "feature_matching_weight": 0},
                "supervised": {"lr_decay": 0.1, "decay_every": 1000}}
DEMO_ARMS = [("crossing_nets", "D crossing nets, all frames"),
             ("supervised", "A supervised, scratch")]


# a rendered pixel counts as hand when it is nearer than this (background
# is +1; tanh outputs never reach it exactly)
RENDER_HAND_BELOW = 0.9


def roughness(depth):
    """Mean |difference| of horizontally and vertically neighbouring hand
    pixels (both nearer than ``RENDER_HAND_BELOW``) of (N, S, S) normalised
    depth maps: small for smooth surfaces, large for speckle (nan without
    two neighbouring hand pixels)."""
    depth = np.asarray(depth)
    hand = depth < RENDER_HAND_BELOW
    diffs = []
    for axis in (1, 2):
        d = np.abs(np.diff(depth, axis=axis))
        both = np.logical_and(np.delete(hand, 0, axis), np.delete(hand, -1, axis))
        diffs.append(d[both])
    diffs = np.concatenate(diffs)
    return float(diffs.mean()) if diffs.size else float("nan")


def render_error(net, batch):
    """(rendered (N, S, S), metrics): depth maps through pose VAE -> Ali ->
    generator from the frames' poses, and in normalised depth units the mean
    |render - real| over the real hand pixels (``mean_abs_error``), the
    silhouette IoU of rendered and real hand pixels (``silhouette_iou``) and
    the :func:`roughness` of renders and real crops."""
    rel_mm = (batch["pose"] + batch["origin"][:, None]) * UNIT_MM
    rendered = net.render(net.encode_pose(rel_mm))
    hand = batch["depth"] < 1
    drawn = rendered < RENDER_HAND_BELOW
    iou = (hand & drawn).sum() / max(1, (hand | drawn).sum())
    return rendered, {
        "mean_abs_error": float(np.abs(rendered - batch["depth"])[hand].mean()),
        "silhouette_iou": float(iou), "roughness": roughness(rendered),
        "real_roughness": roughness(batch["depth"])}


def run_demo(out, frames=DEMO_FRAMES, test_frames=300, size=64,
             labelled_fraction=0.5, seed=0, budget=None,
             validation_fraction=0.1, validate_every=200,
             latent=DEMO_LATENT, progress=True, log=print):
    """Prepare, train, evaluate and report; returns the summary dict.
    ``budget``: a :class:`crossnet.pipeline.Budget` (default: the demo's);
    ``latent``: z_l of both arms, 'mean' or the authors' 'sample' (see
    :func:`crossnet.training.stages.latent_of_batch`)."""
    from .data.cache import CacheDataset
    from .evaluation.report import plot_curves
    from .pipeline import Budget, run_arm, train_shared_gan, train_shared_vae
    from .plotting import depth_grid, save_png

    budget = budget or Budget(DEMO_UPDATES, DEMO_BATCH, DEMO_OPTIONS)
    t0 = time.perf_counter()
    phases = {}       # name -> wall seconds, in the order they ran
    phase_start = t0

    def phase_done(name):
        nonlocal phase_start
        now = time.perf_counter()
        phases[name] = round(now - phase_start, 1)
        phase_start = now
    os.makedirs(out, exist_ok=True)
    train_h5, test_h5 = synthetic_caches(os.path.join(out, "data"), frames,
                                         test_frames, size, seed, progress)
    log("data ready: %d training (%d %% for validation), %d test frames of "
        "%dx%d" % (frames, 100 * validation_fraction, test_frames, size, size))
    phase_done("data")
    gan_dir = os.path.join(out, "gan")
    train_shared_gan(gan_dir, "synthetic", train_h5, budget, seed,
                     validation_fraction, progress, log)
    phase_done("gan")
    # the pose VAE both arms take (each would train the same one)
    vae_dir = os.path.join(out, "vae")
    train_shared_vae(vae_dir, "synthetic", train_h5, budget, labelled_fraction,
                     seed, validation_fraction, progress, log)
    phase_done("vae")
    results = {}
    for name, arm in DEMO_ARMS:
        ev = run_arm(os.path.join(out, name), arm, "synthetic", train_h5,
                     test_h5, budget, labelled_fraction, seed,
                     validation_fraction, gan_dir, validate_every,
                     progress=progress, log=log, shared_vae=vae_dir,
                     latent=latent)
        ev["name"] = name
        results[name] = ev
        log("%s: mean joint error %.2f mm on %d held-out frames"
            % (name, ev["mean_error_mm"], ev["frames"]))
        phase_done(name)
    # baselines on the same frames, fitted on the same labelled frames
    from .evaluation.baselines import evaluate_baselines
    from .training.runner import TrainingData
    train_data = TrainingData(train_h5, "synthetic", labelled_fraction, seed,
                              validation_fraction=validation_fraction)
    with CacheDataset(test_h5) as test:
        baselines = evaluate_baselines(train_data.cache, train_data.labelled, test)
        b = test.read(np.arange(len(test)), ("depth", "pose", "origin"))
    train_data.cache.close()
    # depth maps rendered from held-out poses through Ali + generator, from
    # the crossing run's model/: its checkpoint chosen on validation (a 3a
    # one leaves the GAN's generator as it was), population batch-norm
    # statistics
    from .checkpoint import load_checkpoint, resolve_weights
    from .networks import CrossingNet
    net = CrossingNet("synthetic", size)
    load_checkpoint(net, resolve_weights(os.path.join(out, "crossing_nets")))
    rendered, render = render_error(net, b)
    show = slice(0, min(16, len(rendered)))
    figures = {
        "loss_curves": plot_losses(
            [vae_dir, gan_dir] + [os.path.join(out, name)
                                  for name, _ in DEMO_ARMS],
            os.path.join(out, "loss_curves.png")),
        "rendered": save_png(os.path.join(out, "rendered_from_poses.png"),
                             depth_grid(np.concatenate([b["depth"][show],
                                                        rendered[show]]))),
        "success": plot_curves(list(results.values()) + list(baselines.values()),
                               os.path.join(out, "success_rate.png"),
                               "max_error_curve", "synthetic held-out frames"),
    }
    phase_done("baselines_and_figures")
    summary = {
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "wall_time_by_phase_s": phases,
        "labelled_fraction": labelled_fraction, "image_size": size,
        "train_frames": frames, "test_frames": test_frames,
        "validation_fraction": validation_fraction,
        "validate_every": validate_every, "latent": latent,
        "budget": budget.as_dict(),
        "mean_error_mm": {k: v["mean_error_mm"] for k, v in results.items()},
        "chosen_checkpoint": {k: v["best"] for k, v in results.items()},
        "baselines_mm": {k: v["mean_error_mm"] for k, v in baselines.items()},
        "render_mean_abs_error": render["mean_abs_error"],
        "render_silhouette_iou": render["silhouette_iou"],
        "render_roughness": render["roughness"],
        "real_roughness": render["real_roughness"],
        "figures": figures,
    }
    atomic_write_json(os.path.join(out, "summary.json"), summary)
    _write_report(out, summary)
    return summary


_STAGE_NAMES = {"vae": "VAE", "gan": "GAN", "align": "3a", "cross": "3b",
                "supervised": "supervised"}


def _batch_sizes(batch_size):
    """'50 (GAN 25, VAE 100)': the most common batch size, then the others."""
    sizes = [batch_size[k] for k in _STAGE_NAMES if k in batch_size]
    common = max(sizes, key=sizes.count)
    others = ["%s %d" % (_STAGE_NAMES[k], batch_size[k]) for k in _STAGE_NAMES
              if batch_size.get(k, common) != common]
    return "%d%s" % (common, " (%s)" % ", ".join(others) if others else "")


def _lr_steps(options):
    """', except ...' for stages whose learning rate steps down (the paper's
    are constant but the VAE's), else ''."""
    steps = ["%s steps to %g of it every %d updates" % (
        _STAGE_NAMES[k], o["lr_decay"], o["decay_every"])
        for k, o in options.items() if "lr_decay" in o and k != "vae"]
    return ", except that %s" % "; ".join(steps) if steps else ""


def _generator_step(options):
    """What 3b's generator step departs from in the release ('' if none)."""
    cross = options.get("cross", {})
    changes = []
    if "recons_clip" in cross and cross["recons_clip"] != RECONS_CLIP:
        changes.append("L_recons is the plain squared error" if
                       cross["recons_clip"] is None else
                       "L_recons clips at %g" % cross["recons_clip"])
    weight = cross.get("feature_matching_weight", FEATURE_MATCHING_WEIGHT)
    if weight != FEATURE_MATCHING_WEIGHT:
        changes.append("L_FM is left out, so the generator learns from poses "
                       "alone" if weight == 0 else "L_FM has weight %g" % weight)
    if not changes:
        return ""
    return (" Stage 3b's generator step is not the release's: %s (the "
            "release's clip at 1 gives fingers drawn as background no "
            "gradient, and the discriminator's gradient keeps the renders "
            "speckled at this budget; its D step is the paper's)."
            % "; ".join(changes))


def _align_step(options):
    """What the demo's 3a departs from in the paper ('' if none)."""
    lr = options.get("align", {}).get("generator_lr")
    if lr is None:
        return ""
    return (" Stage 3a also trains the generator on L_recons beside Ali, at "
            "learning rate %g (the paper freezes it; the GAN draws no hands "
            "at this budget, so Ali alone cannot render them)." % lr)


def _latent_phrase(latent):
    """How the report names z_l of the labelled frames."""
    if latent == "sample":
        return (" z_l is the authors' jittered pose code, mu + sigma * "
                "N(0, 0.05^2).")
    return (" z_l is the pose VAE's mean, not the authors' mu + sigma * "
            "N(0, 0.05^2): the jitter, about 30 % of the codes' spread with "
            "this VAE, blurs the renders.")


def _write_report(out, s):
    def chosen(name):
        best = s["chosen_checkpoint"].get(name)
        return ("%s update %d" % (_STAGE_NAMES.get(best["stage"], best["stage"]),
                                  best["updates"]) if best else "-")

    rows = [[k.replace("_", " "), "network", "%.2f" % v, chosen(k)]
            for k, v in s["mean_error_mm"].items()]
    rows += [[k, "baseline", "%.2f" % v, "-"] for k, v in s["baselines_mm"].items()]
    u = s["budget"]["updates"]
    gan_loss = s["budget"]["options"].get("gan", {}).get(
        "generator_loss", named_schedule("paper")["gan"]["generator_loss"])
    lines = [
        "# crossnet demo (built-in synthetic hands)", "",
        "Reduced from the paper so that it runs in about 10 minutes on 2 "
        "cores: %dx%d crops instead of 128x128; %d training frames (%d %% "
        "of them held out with labels to choose checkpoints) and %d test "
        "frames instead of tens of thousands; labelled fraction %.2f (the "
        "unlabelled frames feed only the GAN terms); batch %s instead of "
        "100-200; updates per stage: VAE %d, GAN %d, 3a %d, 3b %d, "
        "supervised %d (= 3a + 3b), about 100x fewer than the paper's. "
        "Optimiser, architecture (apart from the crop size) and losses are "
        "the paper's, but for what this paragraph says; so are the learning "
        "rates%s; the GAN's generator loss is %s.%s%s%s Not comparable to "
        "the paper's numbers."
        % (s["image_size"], s["image_size"], s["train_frames"],
           100 * s["validation_fraction"], s["test_frames"],
           s["labelled_fraction"], _batch_sizes(s["budget"]["batch_size"]),
           u["vae"], u["gan"], u["align"], u["cross"], u["supervised"],
           _lr_steps(s["budget"]["options"]),
           {"logd": "the paper's -log D (the release's feature matching "
                    "draws blobs at this budget)",
            "feature_matching": "the release's feature matching"}[gan_loss],
           _align_step(s["budget"]["options"]),
           _generator_step(s["budget"]["options"]),
           _latent_phrase(s["latent"])),
        "",
        "Mean joint error on the held-out frames, each network's checkpoint "
        "chosen on the validation frames (every %d updates and at the end of "
        "each stage), batch-norm statistics of the training frames. "
        "Baselines, fitted on the same labelled frames: the constant "
        "training-mean pose, and ridge regression on raw pixels (penalty "
        "chosen on a tenth of the training frames)."
        % s["validate_every"], "",
        markdown_table(["method", "kind", "mean joint error (mm)",
                        "chosen checkpoint"], rows), "",
        "Crossing nets' checkpoint is chosen among its 3a and 3b updates: "
        "when it is a 3a update, the adversarial crossing stage (3b) did not "
        "lower the validation error within its budget.", "",
        "Depth maps rendered from the held-out poses: mean |render - real| "
        "over the real hand pixels %.3f (normalised depth: -1 nearest, +1 "
        "background; 0.1 is 12.5 mm of the 250 mm cube); intersection over "
        "union of the rendered (depth < %.1f) and real hand silhouettes "
        "%.2f; roughness (mean |difference| of neighbouring hand pixels) of "
        "the renders %.3f against %.3f for the real crops (renders much "
        "rougher than the crops are speckled, not smooth surfaces)."
        % (s["render_mean_abs_error"], RENDER_HAND_BELOW,
           s["render_silhouette_iou"], s["render_roughness"],
           s["real_roughness"]), "",
        "Wall time: %.0f s (%s; compiling included)." % (
            s["wall_time_s"], ", ".join(
                "%s %.0f" % (k.replace("_", " "), v)
                for k, v in s["wall_time_by_phase_s"].items())), ""]
    captions = {
        "loss_curves": "Loss terms of every stage (epoch means) against "
                       "its updates (recons: the release's clipped L_recons; "
                       "recons_sq: the plain squared error).",
        "rendered": "Top: real held-out crops; bottom: depth maps rendered "
                    "from their poses (pose VAE -> Ali -> generator of crossing "
                    "nets' chosen checkpoint).",
        "success": "Fraction of held-out frames whose worst joint is within "
                   "a threshold.",
    }
    for key, path in s["figures"].items():
        lines += [captions[key], "", "![%s](%s)" % (key, os.path.basename(path)),
                  ""]
    atomic_write_text(os.path.join(out, "report.md"), "\n".join(lines))
