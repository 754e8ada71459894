"""Every paper_experiments script runs in --quick mode and writes its output.

The training ones (ablation, semi-supervised) take minutes: marked slow, and
run in CI all the same (pytest runs every test unless `-m "not slow"`).
"""
import importlib
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "paper_experiments"))


def _script(name):
    return importlib.import_module(name)


def test_fig1_latent_walk(reference_dir, tmp_path):
    assert _script("fig1_latent_walk").main(
        ["--quick", "--out", str(tmp_path), "--reference", reference_dir]) == 0
    assert (tmp_path / "fig1_latent_walk.png").stat().st_size > 10000
    rows = json.load(open(tmp_path / "fig1.json"))["rows"]
    assert len(rows[0]["loop_error_mm"]) == 8
    # the two ends are real poses: the authors' loop error is small there
    assert rows[0]["loop_error_mm"][0] < 30


def test_state_of_the_art(reference_dir, tmp_path):
    assert _script("state_of_the_art").main(
        ["--quick", "--out", str(tmp_path), "--reference", reference_dir]) == 0
    summary = json.load(open(tmp_path / "state_of_the_art.json"))
    assert round(summary["nyu"]["ICCV15_NYU_Feedback"], 3) == 15.973
    for ds in ("icvl", "nyu"):
        assert (tmp_path / ds / "success_max.png").stat().st_size > 0


def test_timing_quick(reference_dir, tmp_path):
    assert _script("timing").main(
        ["--quick", "--out", str(tmp_path), "--reference", reference_dir,
         "--threads", "2"]) == 0
    r = json.load(open(tmp_path / "timing.json"))
    for batch in ("1", "64"):
        row = r["batches"][batch]
        assert {"crossnet", "crossnet-corrmm", "numpy"} <= set(row)
        assert all(v["max_diff_50mm"] < 1e-4 for v in row.values())


def test_standard_scale_budget_carries_its_gan_loss():
    from common import SCALES, describe_budget
    from crossnet.pipeline import Budget, arm_schedule
    st = SCALES["standard"]
    budget = Budget(st["updates"], st["batch_size"], st.get("options"))
    assert arm_schedule("C crossing nets, labelled frames only",
                        budget)["gan"]["generator_loss"] == "logd"
    assert arm_schedule("D crossing nets, all frames",
                        budget)["align"]["lr_decay"] == 0.1
    assert "stage options {'gan': {'generator_loss': 'logd'}, 'align': " \
        "{'lr_decay': 0.1, 'decay_every': 400}}." in describe_budget(budget)


def test_stage_options_argument_is_merged_into_the_scales_options():
    import argparse
    from common import SCALES, _merged_options, add_training_arguments
    parser = argparse.ArgumentParser()
    add_training_arguments(parser)
    args = parser.parse_args(["--stage-options", '{"cross": {"recons_clip": '
                              'null}, "align": {"decay_every": 300}}'])
    merged = _merged_options(SCALES["standard"]["options"], args.stage_options)
    assert merged["cross"] == {"recons_clip": None}
    assert merged["align"] == {"lr_decay": 0.1, "decay_every": 300}
    assert merged["gan"] == {"generator_loss": "logd"}
    assert SCALES["standard"]["options"]["align"]["decay_every"] == 400
    for bad in ("{", '["cross"]', '{"cross": 1}'):
        with pytest.raises(SystemExit):
            parser.parse_args(["--stage-options", bad])


def test_every_arm_gets_the_same_budget():
    """Equal budgets in updates: every arm with a GAN gets the same GAN
    updates, every arm the same VAE and posterior-head updates, whatever
    its stages; budgets do not depend on the labelled fraction."""
    from crossnet.pipeline import ARMS, Budget, planned_updates
    common = _script("common")
    for scale in common.SCALES.values():
        budget = Budget(scale["updates"], scale["batch_size"])
        plans = {arm: planned_updates(arm, budget) for arm in ARMS}
        assert len({p["vae"] for p in plans.values()}) == 1
        assert len({p["posterior"] for p in plans.values()}) == 1
        assert {p["gan"] for p in plans.values() if p["gan"]} == {
            budget.updates["gan"]}
        assert plans["A supervised, scratch"]["gan"] == 0
    ss = _script("semi_supervised")
    assert set(ss.ARMS) <= set(ARMS)
    ab = _script("ablation_self_comparison")
    assert {arm for _, arm in ab.VARIANTS} <= set(ARMS)


def _check_runs_met_their_budgets(runs):
    for r in runs:
        done, plan = r["updates"], r["planned_updates"]
        assert done.get("vae", 0) == plan["vae"], r
        assert done.get("gan", 0) == plan["gan"], r
        assert sum(done.get(s, 0) for s in ("align", "cross", "supervised")) \
            == plan["posterior"], r
        assert r["best"]["stage"] in ("align", "cross", "supervised"), r


@pytest.mark.slow
def test_ablation_quick(tmp_path):
    assert _script("ablation_self_comparison").main(
        ["--quick", "--out", str(tmp_path)]) == 0
    out = json.load(open(tmp_path / "ablation.json"))
    res = out["results"]
    assert [r["name"] for r in res] == ["posterior alone",
                                        "+ GAN-pretrained features",
                                        "+ smoothness", "full crossing",
                                        "posterior alone, 3a/3b lr",
                                        "+ GAN-pretrained features, 3a/3b lr"]
    _check_runs_met_their_budgets(res)
    assert set(out["baselines"]) == {"constant pose", "ridge on pixels"}
    assert (tmp_path / "ablation_success.png").stat().st_size > 0


@pytest.mark.slow
def test_semi_supervised_quick(tmp_path):
    ss = _script("semi_supervised")
    with pytest.raises(SystemExit, match="--unlabelled-frames 487, but 10 % "
                       "labels leave 486 unlabelled training frames"):
        ss.main(["--quick", "--out", str(tmp_path), "--unlabelled-frames",
                 "487"])
    # one fraction keeps CI short: which arms run at 100 % is checked in
    # test_semi_supervised_arms_at_100_percent, and the ablation's quick run
    # trains crossing nets at 100 %
    assert ss.main(["--quick", "--out", str(tmp_path), "--fractions", "0.1",
                    "--unlabelled-frames", "100"]) == 0
    res = json.load(open(tmp_path / "semi_supervised.json"))
    assert res["fractions"] == [0.1]
    table = res["mean_error_mm"]
    assert set(table["0.1"]) == {"constant pose", "ridge on pixels",
                                 "A supervised, scratch",
                                 "B supervised, GAN-pretrained D",
                                 "C crossing nets, labelled frames only",
                                 "D crossing nets, all frames",
                                 "E supervised, scratch, 3a/3b learning rates",
                                 "F supervised, GAN-pretrained D, 3a/3b "
                                 "learning rates",
                                 "D crossing nets, 100 unlabelled frames"}
    # the smaller pool reaches the arm and its own GAN pretraining
    runs = tmp_path / "runs" / "seed0" / "0.1"
    for run in ("D_u100", "shared_gan_u100"):
        cfg = json.load(open(runs / run / "config.json"))
        assert cfg["unlabelled_frames"] == 100, run
        assert cfg["labelled_fraction"] == 0.1, run
    assert "unlabelled_frames" not in json.load(open(runs / "D" / "config.json"))
    _check_runs_met_their_budgets(res["runs"])
    # 10 % of the 540 training frames are labelled
    assert {r["labelled_frames"] for r in res["runs"]
            if r["fraction"] == 0.1} == {54}
    assert (tmp_path / "semi_supervised.png").stat().st_size > 0
    text = (tmp_path / "semi_supervised.md").read_text()
    assert "batch sizes %s; stage options none." % res["budget"][
        "batch_size"] in text


def test_semi_supervised_arms_at_100_percent():
    """At 100 % C would be D, and no frame is left for an unlabelled pool."""
    ss = _script("semi_supervised")
    assert ss.arms_at(0.1) == ss.ARMS
    assert ss.arms_at(1.0) == [a for a in ss.ARMS if not a.startswith("C ")]
    assert ss.pools_at(0.1, [100, 2000]) == [100, 2000]
    assert ss.pools_at(1.0, [100]) == []


def test_torch_twins_match_crossnet_training_graphs():
    """The PyTorch twin of every stage (timing peer, converted from the layer
    graph) computes the same losses from the same weights: a check of every
    layer's conversion and of each stage's loss grouping."""
    pytest.importorskip("torch")
    import numpy as np
    timing = _script("timing")
    rows = timing.stage_timing(32, 4, 2, rounds=1, peak_gflops=100.0)
    assert set(rows) == set(timing.STAGE_NAMES)
    for name, row in rows.items():
        a, b = row["first_step_losses"]["crossnet"], row["first_step_losses"]["torch"]
        assert set(a) == set(b), name
        for k in a:     # later steps start from parameters one Adam step apart
            assert np.isclose(a[k], b[k], rtol=1e-2, atol=1e-4), (name, k, a[k], b[k])
        assert row["flops"] > 0 and row["crossnet_peak_percent"] > 0


def test_torch_chain_refuses_what_it_cannot_convert():
    pytest.importorskip("torch")
    import numpy as np
    twin = _script("torch_twin")
    from crossnet import nn
    l = nn.InputLayer((None, 4))
    a = nn.DenseLayer(l, 3, name="a")
    b = nn.DenseLayer(l, 3, name="b")
    with pytest.raises(ValueError, match="'b'.* not on the layer before"):
        twin.torch_chain(nn.ConcatLayer([a, b], name="concat"))
    with pytest.raises(ValueError, match="exp"):
        twin.torch_chain(nn.DenseLayer(l, 2, nonlinearity=np.exp, name="d"))
