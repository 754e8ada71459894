import numpy as np

from crossnet import checkpoint, cli
from crossnet.data.cache import CacheDataset, write_cache
from crossnet.data.synthetic import SyntheticHands
from crossnet.evaluation.pose_files import read_pose_file
from crossnet.evaluation.predict import predict_cache
from crossnet.networks import CrossingNet


def test_predict_writes_public_format_that_evaluates_back(tmp_path, capsys):
    h5 = str(tmp_path / "test.h5")
    write_cache(h5, SyntheticHands(6, seed=9, size=32), "test", progress=False)
    net = CrossingNet("synthetic", 32, seed=4)
    checkpoint.save_checkpoint(net, str(tmp_path / "run" / "checkpoint"))
    out = str(tmp_path / "preds.txt")
    assert cli.main(["predict", "--weights", str(tmp_path / "run"), "--data", h5,
                     "--out", out]) == 0
    uvd = read_pose_file(out, num_joints=16)
    assert uvd.shape == (6, 16, 3)
    with CacheDataset(h5) as data:
        pred_xyz, gt_xyz = predict_cache(net, data)           # training graph
        fast_xyz, _ = predict_cache(net, data, fast=True)     # folded path
        cam = data.params.camera
    np.testing.assert_allclose(fast_xyz, pred_xyz, atol=1e-4 * 50)
    # the file's (u, v, d) are the (fast) predictions in the dataset's camera
    np.testing.assert_allclose(cam.uvd_to_xyz(uvd), pred_xyz, atol=1e-4 * 50)
    assert cli.main(["predict", "--weights", str(tmp_path / "none"), "--data",
                     h5, "--out", out]) == 2
    assert "none: weights folder not found" in capsys.readouterr().err
