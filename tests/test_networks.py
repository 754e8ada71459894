import numpy as np
import pytest

from crossnet import nn
from crossnet.networks import CrossingNet, config_for
from crossnet.networks.pose_vae import pca_init


@pytest.fixture(scope="module")
def net():
    return CrossingNet("icvl", seed=0)


# Parameter counts from the layer sizes of SPEC section 2 (all arrays,
# batch-norm running statistics included, as in the authors' files).
CONV = 32 * 32 * 36 + 4 * 32            # 6x6 conv 32->32 + BN
EXPECTED = {
    "encoder": 48 * 40 + 40 + 2 * (40 * 20 + 20),
    "decoder": 20 * 40 + 40 + 40 * 48 + 48,
    "alignment": 23 * 23 + 4 * 23,
    "generator": 23 * 512 + 4 * 512 + 4 * CONV + 32 * 36 + 1,
    "discriminator": (32 * 36 + 4 * 32) + 4 * CONV + 512 + 1,
    "posterior_head": 3 * CONV + 512 * 23 + 4 * 23 + 23 * 23 + 23,
    "metric_head": 3 * CONV + 512 * 512 + 4 * 512 + 512 * 23 + 23,
}


@pytest.mark.parametrize("part", sorted(EXPECTED))
def test_param_counts_match_spec(net, part):
    assert net.count_params(part) == EXPECTED[part]


def test_posterior_path_has_about_161k_params(net):
    conv12 = net.discriminator.conv2
    total = nn.count_params(conv12) + net.count_params("posterior_head")
    assert 160000 < total < 162000


def test_taps_and_output_shapes(net):
    d = net.discriminator
    assert d.conv2.output_shape == (None, 32, 32, 32)
    assert d.conv5.output_shape == (None, 32, 4, 4)
    assert net.generator.output.output_shape == (None, 1, 128, 128)
    assert net.posterior_head.output_shape == (None, 23)
    assert net.metric_head.output_shape == (None, 23)


def test_small_image_size_numpy_api():
    small = CrossingNet("icvl", image_size=32, seed=1)
    assert small.generator.output.output_shape == (None, 1, 32, 32)
    joints = np.random.RandomState(0).randn(3, 16, 3).astype("f4") * 40
    z = small.encode_pose(joints)
    assert z.shape == (3, 23)
    np.testing.assert_allclose(z[:, 20:], joints[:, 0] / 50, rtol=1e-6)
    depth = small.render(z)
    assert depth.shape == (3, 32, 32) and np.abs(depth).max() <= 1
    assert small.estimate(depth).shape == (3, 16, 3)
    with pytest.raises(ValueError, match=r"\(B, 16, 3\)"):
        small.encode_pose(joints[:, :14])
    with pytest.raises(ValueError, match=r"\(B, 32, 32\)"):
        small.estimate(np.zeros((2, 64, 64), "f4"))


def test_configs():
    assert config_for("nyu").num_joints == 36 and config_for("nyu").root_joint == 32
    assert config_for("msra").pose_dim == 63
    with pytest.raises(ValueError, match="unknown dataset"):
        config_for("hands")
    with pytest.raises(ValueError, match="power of two"):
        config_for("icvl", image_size=100)


def test_pca_init_reconstructs_low_rank_poses(rng):
    basis = rng.randn(5, 48)
    poses = rng.randn(200, 5) @ basis + rng.randn(48)
    W_enc, W_dec = pca_init(poses)
    assert W_enc.shape == (48, 40) and W_dec.shape == (40, 48)
    centred = poses - poses.mean(0)
    np.testing.assert_allclose(centred @ W_enc @ W_dec, centred, atol=1e-3)


def test_initialise_from_pca_sets_encoder_fc1_and_decoder_output(rng):
    from crossnet.networks.pose_vae import (build_pose_decoder,
                                            build_pose_encoder,
                                            initialise_from_pca)
    basis = rng.randn(5, 48)
    poses = (rng.randn(100, 5) @ basis + rng.randn(48)).astype("float32")
    enc, dec = build_pose_encoder(48), build_pose_decoder(48)
    initialise_from_pca(enc, dec, poses)
    # encoder fc1 before its ReLU, then decoder output: the PCA round trip
    hidden = poses @ enc.fc1.W.get_value() + enc.fc1.b.get_value()
    back = hidden @ dec.output.W.get_value() + dec.output.b.get_value()
    np.testing.assert_allclose(back, poses, atol=1e-3)
    np.testing.assert_allclose(dec.output.b.get_value(), poses.mean(0), rtol=1e-5)
