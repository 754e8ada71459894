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


@pytest.mark.slow
def test_ablation_quick(tmp_path):
    assert _script("ablation_self_comparison").main(
        ["--quick", "--out", str(tmp_path)]) == 0
    res = json.load(open(tmp_path / "ablation.json"))["results"]
    assert [r["name"] for r in res] == ["posterior alone", "+ GAN pretraining",
                                        "+ smoothness", "full crossing"]
    assert (tmp_path / "ablation_success.png").stat().st_size > 0


@pytest.mark.slow
def test_semi_supervised_quick(tmp_path):
    assert _script("semi_supervised").main(
        ["--quick", "--out", str(tmp_path)]) == 0
    res = json.load(open(tmp_path / "semi_supervised.json"))
    assert res["fractions"] == [0.25, 1.0]
    assert len(res["mean_error_mm"]["supervised"]) == 2
    assert (tmp_path / "semi_supervised.png").stat().st_size > 0


def test_torch_twin_matches_crossnet_training_graph():
    """The PyTorch twin of stage 3b (timing peer) computes the same losses
    from the same weights: a check of every layer's wiring in both."""
    pytest.importorskip("torch")
    import numpy as np
    from crossnet.networks import CrossingNet
    timing = _script("timing")
    r = timing.train_step_timing(CrossingNet("icvl", image_size=32, seed=0), 4, 2,
                                 rounds=1)
    a, b = r["first_step_losses"]["crossnet"], r["first_step_losses"]["torch"]
    for k in ("gan_d", "pos", "smo_d", "recons"):
        assert np.isclose(a[k], b[k], rtol=1e-4), k
