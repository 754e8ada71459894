"""``crossnet estimate`` on frames written in each format equals the cache
pipeline (prepare + predict) on the same frames; frames without a hand get
a per-frame message."""
import json
import os

import numpy as np
import pytest

from crossnet import cli
from crossnet.camera import RELEASE_CAMERAS
from crossnet.checkpoint import save_checkpoint
from crossnet.data.cache import CacheDataset, write_cache
from crossnet.data.sources import open_source
from crossnet.evaluation.pose_files import read_pose_file
from crossnet.evaluation.predict import predicted_uvd
from crossnet.networks import CrossingNet
from dataset_trees import write_icvl, write_msra, write_nyu


def _weights(tmp_path, dataset):
    net = CrossingNet(dataset, seed=5)
    rng = np.random.RandomState(5)      # non-trivial batch-norm statistics
    for p in net.part_params("discriminator") + net.part_params("posterior_head"):
        if p.name.endswith(("mean", "inv_std")):
            p.set_value(rng.uniform(0.5, 1.5, p.get_value().shape).astype("f4"))
    folder = str(tmp_path / ("w_" + dataset))
    save_checkpoint(net, folder)
    return net, folder


def _tree(tmp_path, rng, dataset):
    """(dataset root, source, image paths in source order)."""
    root = str(tmp_path / dataset)
    if dataset == "icvl":
        write_icvl(root, rng, n_test=(2, 1))
        src = open_source("icvl", root, "test", size=128)
        paths = [os.path.join(root, "Testing", "Depth", n)
                 for n, _ in src.reader.items]
    elif dataset == "nyu":
        write_nyu(root, rng, "test", n=2)
        src = open_source("nyu", root, "test", size=128, centre="com")
        paths = [os.path.join(root, "test", src.reader.name(i)) for i in range(2)]
    else:
        write_msra(root, rng, subjects=("P0",), gestures=("1",), n=2)
        src = open_source("msra", root, "test", size=128, msra_test_subject="P0")
        paths = [os.path.join(root, n) for n, _ in src.reader.items]
    return src, paths


@pytest.mark.parametrize("dataset", ["icvl", "nyu", "msra"])
def test_estimate_equals_prepare_and_predict(tmp_path, rng, capsys, dataset):
    net, weights = _weights(tmp_path, dataset)
    src, paths = _tree(tmp_path, rng, dataset)
    h5 = str(tmp_path / "c.h5")
    write_cache(h5, src, "test", progress=False)
    with CacheDataset(h5) as cache:
        expected = predicted_uvd(net, cache, fast=True)
        assert len(cache) == len(paths)
    out = str(tmp_path / "est")
    assert cli.main(["estimate", *paths, "--weights", weights,
                     "--dataset-config", dataset, "--camera", dataset,
                     "--out", out, "--overlay", str(tmp_path / "ov")]) == 0
    uvd = read_pose_file(out + "_uvd.txt")
    assert uvd.shape == expected.shape
    np.testing.assert_allclose(uvd, expected, atol=2e-3)
    xyz = read_pose_file(out + "_xyz.txt")
    np.testing.assert_allclose(RELEASE_CAMERAS[dataset].uvd_to_xyz(uvd), xyz,
                               atol=2e-3)
    report = json.load(open(out + ".json"))
    assert [f["image"] for f in report["frames"]] == paths
    assert [f["line"] for f in report["frames"]] == list(range(1, len(paths) + 1))
    assert len(report["frames"][0]["xyz_mm"]) == net.config.num_joints
    assert len(os.listdir(tmp_path / "ov")) == len(paths)
    # a user's camera with y down (positive fy) gives the same image joints
    c = RELEASE_CAMERAS[dataset]
    assert cli.main(["estimate", paths[0], "--weights", weights,
                     "--dataset-config", dataset, "--camera",
                     "%g,%g,%g,%g" % (c.fx, abs(c.fy), c.cx, c.cy),
                     "--out", out + "2"]) == 0
    np.testing.assert_allclose(read_pose_file(out + "2_uvd.txt")[0], expected[0],
                               atol=2e-3)


def test_npy_given_centre_and_frames_without_a_hand(tmp_path, rng, capsys):
    net, weights = _weights(tmp_path, "icvl")
    src, paths = _tree(tmp_path, rng, "icvl")
    from crossnet.data.depth_files import read_depth_file
    depth = read_depth_file(paths[0])
    npy = str(tmp_path / "frame.npy")
    np.save(npy, depth)
    empty = str(tmp_path / "empty.npy")
    np.save(empty, np.zeros_like(depth))
    out = str(tmp_path / "e")
    assert cli.main(["estimate", paths[0], empty, npy, "--weights", weights,
                     "--dataset-config", "icvl", "--camera", "icvl",
                     "--out", out]) == 0
    err = capsys.readouterr().err
    assert "empty.npy: depth image has no valid pixel" in err
    uvd = read_pose_file(out + "_uvd.txt")
    assert uvd.shape == (2, 16, 3)
    np.testing.assert_allclose(uvd[0], uvd[1], atol=1e-4)      # PNG == npy
    frames = json.load(open(out + ".json"))["frames"]
    assert "error" in frames[1] and [f.get("line") for f in frames] == [1, None, 2]
    # the centre the detector found, given explicitly: the same joints
    centre = np.asarray(frames[0]["centre_xyz_mm"])
    u, v, d = RELEASE_CAMERAS["icvl"].xyz_to_uvd(centre)
    assert cli.main(["estimate", paths[0], "--weights", weights,
                     "--dataset-config", "icvl", "--camera", "icvl",
                     "--centre", "%r,%r,%r" % (u, v, d), "--out", out + "c"]) == 0
    np.testing.assert_allclose(read_pose_file(out + "c_uvd.txt")[0], uvd[0],
                               atol=1e-3)
    # nothing estimated: exit 2; bad camera / unknown format: one-line errors
    assert cli.main(["estimate", empty, "--weights", weights, "--dataset-config",
                     "icvl", "--camera", "icvl", "--out", out + "x"]) == 2
    assert cli.main(["estimate", npy, "--weights", weights, "--dataset-config",
                     "icvl", "--camera", "1,2,3", "--out", out + "y"]) == 2
    assert "--camera must be fx,fy,cx,cy" in capsys.readouterr().err
    txt = tmp_path / "frame.txt"
    txt.write_text("1 2 3")
    assert cli.main(["estimate", str(txt), "--weights", weights,
                     "--dataset-config", "icvl", "--camera", "icvl",
                     "--out", out + "z"]) == 2
    assert "frame.txt: unknown depth format" in capsys.readouterr().err
