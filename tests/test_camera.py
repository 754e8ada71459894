import numpy as np
import pytest

from crossnet.camera import camera_for


@pytest.mark.parametrize("dataset", ["icvl", "nyu", "msra"])
@pytest.mark.parametrize("convention", ["release", "benchmark"])
def test_uvd_xyz_round_trip(rng, dataset, convention):
    cam = camera_for(dataset, convention)
    uvd = np.stack([rng.rand(50) * cam.width, rng.rand(50) * cam.height,
                    300 + rng.rand(50) * 500], axis=-1)
    np.testing.assert_allclose(cam.xyz_to_uvd(cam.uvd_to_xyz(uvd)), uvd,
                               atol=1e-9)


def test_release_camera_has_y_up():
    cam = camera_for("icvl")
    above_centre = cam.uvd_to_xyz([[160.0, 20.0, 500.0]])[0]
    assert above_centre[1] > 0  # smaller v (higher in the image) = larger y
    np.testing.assert_allclose(above_centre, [0, 100 * 500 / 241.42, 500])


def test_unknown():
    with pytest.raises(ValueError):
        camera_for("kinect")
    with pytest.raises(ValueError):
        camera_for("icvl", "paper")
