import numpy as np
import pytest

from crossnet.camera import camera_for
from crossnet.data.preprocess import CropGeometry, denormalise_joints
from crossnet.data.synthetic import (HandModel, SyntheticHands, render_crop,
                                     FINGER_JOINTS, LENGTHS)


def test_deterministic_given_seed():
    a, b = SyntheticHands(3, seed=5, size=32), SyntheticHands(3, seed=5, size=32)
    np.testing.assert_array_equal(a.sample(2)["depth"], b.sample(2)["depth"])
    c = SyntheticHands(3, seed=6, size=32)
    assert not np.array_equal(a.sample(2)["depth"], c.sample(2)["depth"])


def test_bone_lengths_and_angle_limits(rng):
    model = HandModel()
    for _ in range(20):
        angles = model.sample_angles(rng)
        for f in ("index", "middle", "ring", "pinky"):
            a = angles[f]
            assert 0 <= a["mcp"] <= 90 and 0 <= a["pip"] <= 110
            assert -15 <= a["abd"] <= 15
        joints, _ = model.forward(angles)
        for f, (l1, l2) in LENGTHS.items():
            r, m, t = (joints[i] for i in FINGER_JOINTS[f])
            assert np.linalg.norm(m - r) == pytest.approx(l1)
            assert np.linalg.norm(t - m) == pytest.approx(l2)


def test_joints_project_onto_rendered_fingers():
    """Every fingertip and finger joint lies on a rendered (hand) pixel, at a
    depth within a finger radius of the joint's own depth (unless hidden)."""
    hands = SyntheticHands(30, seed=1, noise_mm=0, missing=0)
    on_hand, total = 0, 0
    for i in range(len(hands)):
        s = hands.sample(i)
        geom = CropGeometry(s["centre"], hands.params.camera, 250.0, 128)
        crop = render_crop(s["xyz"], geom)
        for j in range(1, 16):
            c, r = np.round(geom.xyz_to_crop(s["xyz"][j])).astype(int)
            if 0 <= r < 128 and 0 <= c < 128:
                total += 1
                d = crop[r, c]
                # visible within 15 mm, or hidden behind something nearer
                on_hand += d > 0 and d <= s["xyz"][j][2] + 15
    assert on_hand / total > 0.97


def test_renders_given_icvl_pose(reference_dir):
    import os
    from crossnet.evaluation.pose_files import read_pose_file
    gt = read_pose_file(os.path.join(reference_dir, "handpose_eval", "groundtruth",
                                     "icvl", "icvl_test_groundtruth_label.txt"))
    xyz = camera_for("icvl").uvd_to_xyz(gt[:5])
    hands = SyntheticHands(poses=xyz, size=64)
    s = hands.sample(0)
    np.testing.assert_allclose(
        denormalise_joints(s["pose"], s["origin"], s["centre"]), xyz[0], atol=1e-3)
    assert (s["depth"] < 1).mean() > 0.05


def test_rejects_wrong_pose_shape():
    with pytest.raises(ValueError, match=r"\(N, 16, 3\)"):
        SyntheticHands(poses=np.zeros((2, 14, 3)))


def test_capsule_depth_is_the_near_surface_of_a_cylinder():
    # a cylinder of radius 10 mm along x at 400 mm, seen head-on: depth
    # Z - sqrt(r^2 - d^2) at distance d (mm) from its axis, background beyond
    from crossnet.data.preprocess import CropGeometry
    from crossnet.data.synthetic import _draw_capsules, synthetic_params
    params = synthetic_params(64)
    geom = CropGeometry(np.array([0.0, 0.0, 400.0]), params.camera,
                        params.cube_mm, 64)
    zbuf = np.full((64, 64), np.inf)
    f_px = abs(params.camera.fx) * geom.scale
    _draw_capsules(zbuf, geom, f_px, [(np.array([-60.0, 0, 400]),
                                       np.array([60.0, 0, 400]), 10.0, 10.0),
                                      (np.array([0.0, 0, -5]),       # behind
                                       np.array([0.0, 9, 400]), 50.0, 50.0)])
    col, row = geom.xyz_to_crop(np.array([0.0, 0.0, 400.0]))
    rows = np.arange(64)
    d_mm = np.abs(rows - row) / (f_px / 400.0)
    column = zbuf[:, int(round(col))]
    on = d_mm < 10
    np.testing.assert_allclose(column[on], 400 - np.sqrt(100 - d_mm[on] ** 2),
                               rtol=0, atol=1e-9)
    assert np.isinf(column[~on]).all()
    # beyond the cylinder's ends (60 mm + the 10 mm cap) nothing is drawn
    end = geom.xyz_to_crop(np.array([75.0, 0.0, 400.0]))[0]
    assert np.isinf(zbuf[:, int(np.ceil(end)):]).all()


def test_small_vector_helpers_give_numpys_values_exactly(rng):
    """The kinematics' plain-float helpers (speed) must not change a frame:
    the same bits as np.cross, np.linalg.norm and NumPy-scalar rotations."""
    from crossnet.data import synthetic as syn

    def numpy_rot(axis, angle):         # the former NumPy-scalar form
        axis = np.asarray(axis, dtype=np.float64)
        axis = axis / np.linalg.norm(axis)
        x, y, z = axis
        c, s = np.cos(angle), np.sin(angle)
        C = 1 - c
        return np.array([[c + x * x * C, x * y * C - z * s, x * z * C + y * s],
                         [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
                         [z * x * C - y * s, z * y * C + x * s, c + z * z * C]])
    for _ in range(200):
        a, b = rng.normal(0, 30, 3), rng.normal(0, 1, 3)
        angle = rng.uniform(-3, 3)
        assert np.array_equal(syn._cross(a, b), np.cross(a, b))
        assert syn._norm(a) == np.linalg.norm(a)
        assert np.array_equal(syn._rot(b, angle), numpy_rot(b, angle))
        lo, hi = sorted(rng.normal(0, 50, 2))
        v = rng.normal(0, 50)
        assert syn._clip(v, lo, hi) == np.clip(v, lo, hi)
