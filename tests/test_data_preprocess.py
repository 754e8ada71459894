import numpy as np
import pytest

from crossnet.camera import camera_for
from crossnet.data.preprocess import (BadFrame, CropGeometry, PreprocessParams,
                                      crop_depth, denormalise_joints,
                                      hand_centre_com, normalise_depth,
                                      preprocess_frame)
from dataset_trees import disc_depth, random_hand_xyz


def _params(size=128):
    return PreprocessParams("icvl", 250.0, size, camera_for("icvl"), 0, "com")


def test_known_joint_lands_on_expected_crop_pixel(rng):
    cam = camera_for("icvl")
    xyz = random_hand_xyz(rng, 16)
    uvd = cam.xyz_to_uvd(xyz)
    depth = disc_depth(uvd, 320, 240)
    centre = xyz.mean(axis=0)
    out = preprocess_frame(depth, xyz, centre, _params())
    geom = CropGeometry(centre, cam, 250.0, 128)
    # the crop centre pixel is the projected centre
    col, row = geom.xyz_to_crop(centre)
    assert abs(col - 63.5) < 1e-9 and abs(row - 63.5) < 1e-9
    # the cube (250 mm at depth z) spans the whole crop
    assert geom.scale == pytest.approx(128 / (250 * 241.42 / centre[2]))
    # every joint's crop pixel is on the hand, at that joint's depth
    z_front, z_back = geom.z_front, geom.z_back
    hand = depth[depth > 0]
    near = max(hand.min(), z_front)
    for j in range(16):
        c, r = np.round(geom.xyz_to_crop(xyz[j])).astype(int)
        d = out["depth"][r, c]
        assert d < 1
        expected = 2 * (max(uvd[j, 2], z_front) - near) / (z_back - near) - 1
        # discs of nearer joints may cover this one
        assert d <= expected + 2 * 2 / (z_back - near)


def test_depth_normalisation_range(rng):
    crop = np.zeros((8, 8), np.float32)
    crop[2:4, 2:4] = [[400, 420], [440, 460]]
    crop[5, 5] = 900                      # behind the cube: background
    crop[6, 6] = 200                      # in front of the cube: clamped
    out = normalise_depth(crop, 325.0, 575.0)
    assert out.min() == -1.0 and out[6, 6] == -1.0
    assert out[0, 0] == 1.0 and out[5, 5] == 1.0
    np.testing.assert_allclose(out[2, 2], 2 * (400 - 325) / (575 - 325) - 1, rtol=1e-6)
    with pytest.raises(BadFrame, match="no depth pixel"):
        normalise_depth(np.zeros((4, 4)), 325.0, 575.0)
    with pytest.raises(BadFrame, match="NaN"):
        normalise_depth(np.full((4, 4), np.nan), 325.0, 575.0)


def test_inverse_transform_recovers_mm_and_uvd(rng):
    cam = camera_for("icvl")
    xyz = random_hand_xyz(rng, 16)
    depth = disc_depth(cam.xyz_to_uvd(xyz), 320, 240)
    out = preprocess_frame(depth, xyz, xyz.mean(0) + 3, _params())
    assert np.abs(out["pose"][0]).max() == 0        # root-relative
    back = denormalise_joints(out["pose"], out["origin"], out["centre"])
    np.testing.assert_allclose(back, xyz, atol=1e-3)
    back_uvd = denormalise_joints(out["pose"], out["origin"], out["centre"], cam)
    np.testing.assert_allclose(back_uvd, cam.xyz_to_uvd(xyz), atol=1e-3)


def test_centre_of_mass_finds_the_hand_not_the_far_wall(rng):
    cam = camera_for("icvl")
    xyz = random_hand_xyz(rng, 16)
    depth = disc_depth(cam.xyz_to_uvd(xyz), 320, 240)
    depth[depth == 0] = 1500.0            # a wall far behind the hand
    centre = hand_centre_com(depth, cam)
    assert np.linalg.norm(centre[:2] - xyz.mean(0)[:2]) < 30
    assert abs(centre[2] - 450) < 40
    with pytest.raises(BadFrame, match="all zero"):
        hand_centre_com(np.zeros((240, 320)), cam)


def test_crop_outside_image_is_background():
    cam = camera_for("icvl")
    depth = np.full((240, 320), 500.0, np.float32)
    geom = CropGeometry([250.0, 0.0, 500.0], cam, 250.0, 64)  # past the right edge
    crop = crop_depth(depth, geom)
    assert (crop == 0).any() and (crop == 500).any()
    assert (crop[:, -1] == 0).all()


def test_params_json_round_trip():
    p = _params(64)
    assert PreprocessParams.from_json(p.to_json()) == p
