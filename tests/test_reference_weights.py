"""The authors' pretrained weights, loaded and checked against known numbers.

Reference numbers (SPEC section 8): VAE encode->decode of the 1,596 ICVL test
poses 4.18 mm (computed independently in numpy); pose -> depth -> pose loop on
the first 400 frames, crop centre at the root joint, 16.7 mm with the authors'
kernel orientation, 50 to 103 mm with any wrong one.
"""
import os

import numpy as np
import pytest

from crossnet import checkpoint
from crossnet.evaluation.roundtrip import (centre_joints, load_benchmark_joints,
                                           roundtrip_errors)
from crossnet.networks import PART_FILES, CrossingNet


@pytest.fixture(scope="module")
def icvl(reference_dir):
    net = CrossingNet("icvl")
    checkpoint.load_checkpoint(
        net, os.path.join(reference_dir, "crossingnet_pretrained", "ICVL"))
    gt = os.path.join(reference_dir, "handpose_eval", "groundtruth", "icvl",
                      "icvl_test_groundtruth_label.txt")
    joints = centre_joints(load_benchmark_joints(gt, net), 0)
    return net, joints


@pytest.mark.parametrize("dataset", ["ICVL", "NYU"])
def test_every_array_of_the_authors_files_fits(reference_dir, dataset):
    folder = os.path.join(reference_dir, "crossingnet_pretrained", dataset)
    net = CrossingNet(dataset.lower())
    checkpoint.load_checkpoint(net, folder)
    for part, stem in PART_FILES.items():
        with np.load(os.path.join(folder, "-1_%s.npz" % stem)) as z:
            arrays = [z["arr_%d" % i] for i in range(len(z.files))]
        params = net.part_params(part)
        assert len(arrays) == len(params)
        for p, a in zip(params, arrays):
            assert p.get_value().shape == a.shape
            np.testing.assert_array_equal(p.get_value(), a)


def test_icvl_vae_error_is_4_18_mm(icvl):
    net, joints = icvl
    assert len(joints) == 1596
    rec = net.decode_latent(net.encode_pose(joints))
    err = np.linalg.norm(rec - joints, axis=-1).mean()
    assert abs(err - 4.18) < 0.01, err


def test_icvl_loop_error_shows_authors_wiring(icvl):
    """Bound 18 mm: the reference wiring gives 16.7 mm on these 400 frames;
    every wrong kernel orientation gives 50 mm or more."""
    net, joints = icvl
    result, depth = roundtrip_errors(net, joints[:400])
    assert result["loop_mean_error_mm"] < 18.0, result
    assert depth.shape == (400, 128, 128)
    # rendered hands: background at +1, the hand nearer (negative values)
    assert np.mean(depth > 0.9) > 0.5 and depth.min() < -0.9


def test_flipped_discriminator_kernels_break_the_loop(icvl):
    """The same check fails with a wrong orientation (it can fail)."""
    net, joints = icvl
    convs = [p for p in net.part_params("discriminator") +
             net.part_params("posterior_head") if p.ndim == 4]
    saved = [p.get_value() for p in convs]
    try:
        for p, v in zip(convs, saved):
            p.set_value(v[:, :, ::-1, ::-1].copy())
        result, _ = roundtrip_errors(net, joints[:400])
        assert result["loop_mean_error_mm"] > 40.0, result
    finally:
        for p, v in zip(convs, saved):
            p.set_value(v)
