"""The demo pipeline end to end at a tiny scale (the real demo is larger)."""
import json
import os

from crossnet.demo import run_demo
from crossnet.training.runner import PAPER_SCHEDULE


def test_demo_end_to_end_tiny(tmp_path):
    schedule = {s: dict(PAPER_SCHEDULE[s], epochs=1, batch_size=8)
                for s in PAPER_SCHEDULE}
    out = str(tmp_path / "demo")
    summary = run_demo(out, frames=32, test_frames=8, size=32,
                       labelled_fraction=0.5, schedule=schedule, progress=False,
                       log=lambda *a: None)
    assert set(summary["mean_error_mm"]) == {"crossing_nets", "supervised"}
    assert all(v > 0 for v in summary["mean_error_mm"].values())
    for name in ("report.md", "loss_curves.png", "rendered_from_poses.png",
                 "success_rate.png", "summary.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    assert "mean joint error" in open(os.path.join(out, "report.md")).read()
    # re-running resumes the finished runs instead of retraining
    again = run_demo(out, frames=32, test_frames=8, size=32,
                     labelled_fraction=0.5, schedule=schedule, progress=False,
                     log=lambda *a: None)
    assert again["mean_error_mm"] == summary["mean_error_mm"]
    assert json.load(open(os.path.join(out, "summary.json")))["image_size"] == 32
