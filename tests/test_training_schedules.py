"""Reduced schedules change only epochs and batch sizes."""
import pytest

from crossnet.training.schedules import SCHEDULES, STAGE_SETS, STAGES, schedule


def test_reduced_schedules_keep_the_papers_learning_settings():
    paper = SCHEDULES["paper"]
    assert set(paper) == set(STAGES)
    for name, table in SCHEDULES.items():
        assert set(table) == set(STAGES), name
        for stage, row in table.items():
            same = {k: v for k, v in row.items()
                    if k not in ("epochs", "batch_size")}
            assert same == {k: v for k, v in paper[stage].items()
                            if k not in ("epochs", "batch_size")}, (name, stage)
    for stages in STAGE_SETS.values():
        assert set(stages) <= set(STAGES) and stages[0] == "vae"


def test_schedule_is_a_copy():
    s = schedule("quick")
    s["vae"]["epochs"] = -1
    assert SCHEDULES["quick"]["vae"]["epochs"] > 0
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule("fast")
