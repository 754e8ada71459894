"""crossnet.pipeline: budgets in updates and the schedules of the arms."""
import pytest

from crossnet.pipeline import (ARMS, Budget, arm_schedule, planned_updates,
                               run_arm)

UPDATES = {"vae": 40, "gan": 30, "align": 20, "cross": 10}


def test_budget_gives_supervised_the_posterior_updates_of_3a_and_3b():
    b = Budget(UPDATES, {"default": 8, "vae": 16})
    assert b.updates["supervised"] == 30
    assert b.batch_size == {"vae": 16, "gan": 8, "align": 8, "cross": 8,
                            "supervised": 8}
    plans = {arm: planned_updates(arm, b) for arm in ARMS}
    assert {p["posterior"] for p in plans.values()} == {30}
    assert {p["vae"] for p in plans.values()} == {40}


def test_budget_options_reach_every_arm_that_has_the_stage():
    b = Budget(UPDATES, {}, options={"gan": {"generator_loss": "logd"}})
    own_gan = arm_schedule("C crossing nets, labelled frames only", b)
    assert own_gan["gan"]["generator_loss"] == "logd"
    assert own_gan["gan"]["updates"] == 30
    # other stages keep the paper's settings
    assert own_gan["align"]["lr"] == 1e-2
    assert "generator_loss" not in own_gan["align"]
    assert b.as_dict()["options"] == {"gan": {"generator_loss": "logd"}}
    # the default stays the release's feature matching
    plain = arm_schedule("C crossing nets, labelled frames only",
                         Budget(UPDATES, {}))
    assert plain["gan"]["generator_loss"] == "feature_matching"


def test_budget_rejects_missing_stages_and_options_for_unknown_stages():
    with pytest.raises(ValueError, match="without updates for cross"):
        Budget({"vae": 1, "gan": 1, "align": 1}, {})
    with pytest.raises(ValueError, match="unknown stages gna"):
        Budget(UPDATES, {}, options={"gna": {"lr": 1}})


def test_supervised_arms_at_the_crossing_heads_learning_rates():
    """Arms E and F: at every update the supervised stage's learning rate is
    the one the crossing arms' posterior head has at that update (3a's
    schedule with its decay, then 3b's); A and B keep the paper's."""
    from crossnet.training.runner import learning_rate
    b = Budget(UPDATES, {}, options={"align": {"lr_decay": 0.1,
                                               "decay_every": 8}})
    crossing = arm_schedule("D crossing nets, all frames", b)
    for arm in ("E supervised, scratch, 3a/3b learning rates",
                "F supervised, GAN-pretrained D, 3a/3b learning rates"):
        sup = arm_schedule(arm, b)["supervised"]
        assert sup["updates"] == 30
        got = [learning_rate(sup, u) for u in range(30)]
        want = ([learning_rate(crossing["align"], u) for u in range(20)]
                + [learning_rate(crossing["cross"], u) for u in range(10)])
        assert got == pytest.approx(want, rel=1e-12)
        assert got[0] == pytest.approx(1e-2) and got[8] == pytest.approx(1e-3)
        assert got[16] == pytest.approx(1e-4) and got[20] == pytest.approx(1e-3)
    plain = arm_schedule("A supervised, scratch", b)["supervised"]
    assert {learning_rate(plain, u) for u in range(30)} == {1e-3}


def test_unlabelled_frames_only_for_arms_that_use_unlabelled_depth(tmp_path):
    budget = Budget({"vae": 1, "gan": 1, "align": 1, "cross": 1}, {})
    with pytest.raises(ValueError, match="uses no unlabelled frames"):
        run_arm(str(tmp_path / "A"), "A supervised, scratch", "synthetic",
                "unused.h5", "unused.h5", budget, 0.5, 0, 0.1,
                unlabelled_frames=10)
    assert not (tmp_path / "A").exists()
