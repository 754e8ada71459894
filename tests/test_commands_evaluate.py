import glob
import json
import os

import numpy as np
import pytest

from crossnet import cli

# Published mean errors of these very files (SPEC section 7), in mm.
PUBLISHED_NYU = {
    "CVWW15_NYU_Prior": 20.750, "CVWW15_NYU_Prior-Refinement": 19.726,
    "IJCAI16_NYU_DeepModel": 17.036, "ICCV15_NYU_Feedback": 15.973,
    "ICIP17_NYU_Guo_Basic": 14.588, "CVPR18_NYU_V2V_PoseNet": 8.419,
}


def _run_json(capsys, argv):
    assert cli.main(argv + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_published_nyu_numbers_to_0_001_mm(reference_dir, capsys):
    base = os.path.join(reference_dir, "handpose_eval")
    preds = sorted(glob.glob(os.path.join(base, "results", "nyu", "*.txt")))
    assert {os.path.basename(p)[:-4] for p in preds} == set(PUBLISHED_NYU)
    argv = ["evaluate", "--dataset", "nyu", "--gt",
            os.path.join(base, "groundtruth", "nyu", "nyu_test_groundtruth_label.txt")]
    for p in preds:
        argv += ["--pred", p]
    results = _run_json(capsys, argv)
    for r in results:
        assert r["frames"] == 8252
        assert round(r["mean_error_mm"], 3) == PUBLISHED_NYU[r["name"]], r["name"]
        assert len(r["per_joint_mm"]) == 14
        assert r["max_error_curve"]["thresholds_mm"] == list(range(81))


def test_icvl_files_incl_seq1_only(reference_dir, capsys, tmp_path):
    base = os.path.join(reference_dir, "handpose_eval")
    preds = sorted(glob.glob(os.path.join(base, "results", "icvl", "*.txt")))
    argv = ["evaluate", "--dataset", "icvl", "--gt",
            os.path.join(base, "groundtruth", "icvl", "icvl_test_groundtruth_label.txt"),
            "--out", str(tmp_path)]
    for p in preds:
        argv += ["--pred", p]
    results = {r["name"]: r for r in _run_json(capsys, argv)}
    assert results["CVWW15_ICVL_Prior"]["frames"] == 702
    assert results["CVPR18_ICVL_V2V_PoseNet"]["frames"] == 1596
    # V2V-PoseNet is the best of these on ICVL, as published
    assert min(results.values(), key=lambda r: r["mean_error_mm"])["name"] \
        == "CVPR18_ICVL_V2V_PoseNet"
    for name in ("success_max.png", "success_mean.png", "per_joint.png",
                 "report.md", "results.json"):
        assert (tmp_path / name).stat().st_size > 0


def test_ground_truth_against_itself_is_zero(tmp_path, capsys):
    rng = np.random.RandomState(0)
    gt = tmp_path / "gt.txt"
    np.savetxt(gt, np.c_[rng.rand(5, 14 * 3) * 100 + 300])
    out = _run_json(capsys, ["evaluate", "--dataset", "nyu", "--gt", str(gt),
                             "--pred", str(gt), "--name", "self"])
    assert out[0]["name"] == "self" and out[0]["mean_error_mm"] == 0.0
    assert out[0]["max_error_curve"]["fraction"][0] == 1.0


@pytest.mark.parametrize("pred_rows, message", [
    (4, "4 frames, the ground truth"),
    ("joints", "13 joints per frame"),
])
def test_mismatched_prediction_file(tmp_path, capsys, pred_rows, message):
    gt = tmp_path / "gt.txt"
    np.savetxt(gt, np.ones((5, 42)) * 300)
    pred = tmp_path / "pred.txt"
    np.savetxt(pred, np.ones((4, 42)) if pred_rows == 4 else np.ones((5, 39)))
    assert cli.main(["evaluate", "--dataset", "nyu", "--gt", str(gt),
                     "--pred", str(pred)]) == 2
    err = capsys.readouterr().err
    assert "pred.txt" in err and message in err


@pytest.mark.parametrize("dataset, joints", [("nyu", 16), ("icvl", 14)])
def test_joint_count_must_fit_the_dataset(tmp_path, capsys, dataset, joints):
    gt = tmp_path / "gt.txt"
    np.savetxt(gt, np.ones((3, 3 * joints)) * 300)
    assert cli.main(["evaluate", "--dataset", dataset, "--gt", str(gt),
                     "--pred", str(gt)]) == 2
    err = capsys.readouterr().err
    assert "gt.txt: %d joints per frame, but --dataset %s" % (joints, dataset) in err


def test_gzip_refused_and_bom_accepted(tmp_path, capsys):
    import gzip
    rows = np.ones((3, 42)) * 300
    plain = tmp_path / "gt.txt"
    np.savetxt(plain, rows)
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    out = _run_json(capsys, ["evaluate", "--dataset", "nyu", "--gt", str(plain),
                             "--pred", str(bom)])
    assert out[0]["mean_error_mm"] == 0.0
    gz = tmp_path / "gt.txt.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert cli.main(["evaluate", "--dataset", "nyu", "--gt", str(plain),
                     "--pred", str(gz)]) == 2
    assert "gt.txt.gz: a gzip-compressed file" in capsys.readouterr().err
