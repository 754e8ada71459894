"""The demo pipeline end to end at a tiny scale (the real demo is larger)."""
import json
import os
import re

import numpy as np
import pytest

from crossnet.checkpoint import RUN_LOG
from crossnet.demo import (DEMO_OPTIONS, loss_series, plot_losses,
                           run_demo)
from crossnet.training.runner import read_log
from crossnet.pipeline import Budget


def _schedule_of(run_folder, name):
    """The schedule in the config of one of the demo's runs."""
    return json.load(open(os.path.join(run_folder, name, "config.json")))[
        "schedule"]


def test_demo_end_to_end_tiny(tmp_path):
    # the demo's stage-3b options and 3a's generator training (the GAN
    # keeps feature matching)
    align = {"generator_lr": DEMO_OPTIONS["align"]["generator_lr"]}
    budget = Budget({"vae": 4, "gan": 3, "align": 2, "cross": 2},
                    {"default": 8}, {"cross": DEMO_OPTIONS["cross"],
                                     "align": align})
    out = str(tmp_path / "demo")
    summary = run_demo(out, frames=40, test_frames=8, size=32,
                       labelled_fraction=0.5, budget=budget, progress=False,
                       validate_every=2, log=lambda *a: None)
    assert set(summary["mean_error_mm"]) == {"crossing_nets", "supervised"}
    assert set(summary["baselines_mm"]) == {"constant pose", "ridge on pixels"}
    report = open(os.path.join(out, "report.md")).read()
    # every number of the summary is in the report's table, with its label
    for label, value in list(summary["mean_error_mm"].items()) + \
            list(summary["baselines_mm"].items()):
        assert value > 0
        row = re.search(r"^\| %s \| (network|baseline) \| ([0-9.]+) \| "
                        r"(-|(3a|3b|supervised) update \d+) \|$"
                        % re.escape(label.replace("_", " ")), report, re.M)
        assert row, (label, report)
        assert abs(float(row.group(2)) - value) < 0.006
    # every figure is linked from the report and exists
    for key, path in summary["figures"].items():
        assert "![%s](%s)" % (key, os.path.basename(path)) in report
        assert os.path.getsize(path) > 0
    assert set(summary["figures"]) == {"loss_curves", "rendered", "success"}
    saved = json.load(open(os.path.join(out, "summary.json")))
    assert saved["image_size"] == 32 and saved["baselines_mm"] == summary["baselines_mm"]
    assert 0 < summary["render_mean_abs_error"] < 2
    assert 0 <= summary["render_silhouette_iou"] <= 1
    assert summary["render_roughness"] >= 0 and summary["real_roughness"] >= 0
    assert "%.3f against %.3f" % (summary["render_roughness"],
                                  summary["real_roughness"]) in report
    assert "feature matching" in report      # the tiny budget's GAN loss
    assert "L_FM is left out" in report
    assert "Stage 3a also trains the generator" in report
    assert "z_l is the pose VAE's mean" in report and summary["latent"] == "mean"
    crossing, supervised = (_schedule_of(out, name)
                            for name in ("crossing_nets", "supervised"))
    assert [crossing[st]["latent"] for st in ("align", "cross")] == ["mean"] * 2
    assert supervised["supervised"]["latent"] == "mean"
    assert crossing["align"]["generator_lr"] == align["generator_lr"]
    cross = [e["losses"] for e in read_log(os.path.join(out, "crossing_nets"))
             if e["stage"] == "cross"]
    # 3b's L_recons is the plain squared error, logged under its own name
    assert cross and all(set(c) == {"gan_d", "pos", "smo_d", "recons_sq",
                                    "smo_g"} for c in cross)
    assert "validation frames (every 2 updates" in report
    phases = summary["wall_time_by_phase_s"]
    assert list(phases) == ["data", "gan", "vae", "crossing_nets",
                            "supervised", "baselines_and_figures"]
    assert abs(sum(phases.values()) - summary["wall_time_s"]) < 0.5
    assert "crossing nets %.0f" % phases["crossing_nets"] in report
    for name in ("crossing_nets", "supervised"):
        assert summary["chosen_checkpoint"][name]["stage"] in (
            "align", "cross", "supervised")
    # re-running resumes the finished runs instead of retraining
    again = run_demo(out, frames=40, test_frames=8, size=32,
                     labelled_fraction=0.5, budget=budget, progress=False,
                     validate_every=2, log=lambda *a: None)
    assert again["mean_error_mm"] == summary["mean_error_mm"]


def test_report_states_batch_sizes_and_learning_rate_steps():
    """The report's description of the budget follows the budget."""
    from crossnet.demo import _batch_sizes, _lr_steps
    b = Budget({"vae": 1, "gan": 1, "align": 1, "cross": 1},
               {"default": 50, "vae": 100, "gan": 25},
               {"align": {"lr_decay": 0.1, "decay_every": 1000}})
    assert _batch_sizes(b.batch_size) == "50 (VAE 100, GAN 25)"
    assert _batch_sizes({"vae": 8, "gan": 8}) == "8"
    assert _lr_steps(b.options) == (", except that 3a steps to 0.1 of it "
                                    "every 1000 updates")
    assert _lr_steps({"gan": {"generator_loss": "logd"}}) == ""


def test_report_states_how_the_generator_step_departs_from_the_release():
    from crossnet.demo import _generator_step
    assert _generator_step({}) == ""
    assert _generator_step({"cross": {"recons_clip": 1.0,
                                      "feature_matching_weight": 1}}) == ""
    both = _generator_step({"cross": {"recons_clip": None,
                                      "feature_matching_weight": 0}})
    assert "plain squared error; L_FM is left out" in both
    assert "L_FM has weight 0.1" in _generator_step(
        {"cross": {"feature_matching_weight": 0.1}})
    assert "clips at 4" in _generator_step({"cross": {"recons_clip": 4}})


def test_report_states_how_3a_and_the_latent_depart_from_the_paper():
    from crossnet.demo import _align_step, _latent_phrase
    assert _align_step({}) == "" and _align_step({"align": {"lr": 1}}) == ""
    assert "at learning rate 0.001 (the paper freezes it" in _align_step(
        {"align": {"generator_lr": 1e-3}})
    assert "authors' jittered" in _latent_phrase("sample")
    assert "VAE's mean, not the authors'" in _latent_phrase("mean")


def test_roughness_separates_smooth_surfaces_from_speckle():
    """Neighbouring hand pixels only: a ramp's step, a checkerboard's jump;
    background (+1) and hand/background edges do not count."""
    from crossnet.demo import roughness
    ramp = np.ones((1, 8, 8), np.float32)
    ramp[0, 2:6, 2:6] = -1 + 0.1 * np.arange(4)          # steps of 0.1 along x
    assert abs(roughness(ramp) - 0.05) < 1e-6             # 12 x-pairs 0.1, 12 y-pairs 0
    checker = ramp.copy()
    checker[0, 2:6, 2:6] = np.where(np.add.outer(np.arange(4), np.arange(4))
                                    % 2, -0.2, -1.0)
    assert abs(roughness(checker) - 0.8) < 1e-6
    assert np.isnan(roughness(np.ones((2, 4, 4))))


def _write_log(run_dir, entries):
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, RUN_LOG), "w") as fh:
        for stage, batches, losses in entries:
            fh.write(json.dumps({"stage": stage, "epoch": 0, "batches": batches,
                                 "losses": losses}) + "\n")


def test_loss_curves_take_every_run_and_count_updates(tmp_path):
    """Stages of several runs (the shared GAN and VAE, both arms), each
    epoch's terms at the stage's update count; a stage already taken from
    an earlier run is not mixed with a later run's."""
    gan, cross, other = (str(tmp_path / n) for n in ("gan", "cross", "other"))
    _write_log(gan, [("gan", 720, {"gan_d": 0.3}), ("gan", 720, {"gan_d": 0.2}),
                     ("gan", 60, {"gan_d": 0.25})])
    _write_log(cross, [("align", 180, {"recons": 0.09, "pos": 0.02}),
                       ("align", 180, {"recons": 0.07, "pos": 0.01}),
                       ("cross", 120, {"recons": 0.1}),
                       ("cross", 120, {"recons_sq": 0.09, "fm": 0.0})])
    _write_log(other, [("gan", 5, {"gan_d": 9.0})])
    series = loss_series([gan, cross, other])
    assert list(series) == ["gan", "align", "cross"]
    assert series["gan"] == {"gan_d": ([720, 1440, 1500], [0.3, 0.2, 0.25])}
    assert series["align"]["recons"] == ([180, 360], [0.09, 0.07])
    # a term renamed between epochs (a run resumed across the rename)
    assert series["cross"] == {"recons": ([120], [0.1]),
                               "recons_sq": ([240], [0.09]),
                               "fm": ([240], [0.0])}
    path = plot_losses([gan, cross], str(tmp_path / "curves.png"))
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    empty = str(tmp_path / "empty")
    with pytest.raises(ValueError, match="no training log .*empty"):
        plot_losses([empty], str(tmp_path / "none.png"))
    assert not os.path.exists(tmp_path / "none.png")
