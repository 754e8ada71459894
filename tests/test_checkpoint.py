import os

import numpy as np
import pytest

from crossnet import checkpoint
from crossnet.networks import CrossingNet


@pytest.fixture(scope="module")
def nets():
    return CrossingNet("icvl", image_size=32, seed=1), \
        CrossingNet("icvl", image_size=32, seed=2)


def test_save_load_round_trip_in_authors_layout(tmp_path, nets):
    a, b = nets
    paths = checkpoint.save_checkpoint(a, str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["-1_en_params.npz", "-1_de_params.npz", "-1_align.npz",
         "-1_gen_params.npz", "-1_dis_params.npz", "-1_reco_params.npz",
         "-1_metr_params.npz"])
    with np.load(paths[0]) as z:
        assert sorted(z.files) == ["arr_%d" % i for i in range(6)]
    checkpoint.load_checkpoint(b, str(tmp_path))
    for part in ("generator", "posterior_head"):
        for p, q in zip(a.part_params(part), b.part_params(part)):
            np.testing.assert_array_equal(p.get_value(), q.get_value())


def test_errors_name_file_and_array_and_change_nothing(tmp_path, nets):
    a, b = nets
    checkpoint.save_checkpoint(a, str(tmp_path))
    before = b.part_params("alignment")[0].get_value()
    other = CrossingNet("nyu", image_size=32, seed=3)
    with pytest.raises(checkpoint.CheckpointError,
                       match=r"-1_en_params\.npz: arr_0 has shape \(48, 40\).*"
                             r"enc_fc1\.W.*\(108, 40\)"):
        checkpoint.load_checkpoint(other, str(tmp_path))
    # a broken file among good ones: nothing is loaded
    bad = tmp_path / "-1_metr_params.npz"
    bad.write_bytes(b"not a zip file")
    b.part_params("alignment")[0].set_value(before)
    with pytest.raises(checkpoint.CheckpointError,
                       match="metr_params.npz: not a readable .npz"):
        checkpoint.load_checkpoint(b, str(tmp_path))
    np.testing.assert_array_equal(b.part_params("alignment")[0].get_value(), before)
    os.remove(tmp_path / "-1_align.npz")
    with pytest.raises(checkpoint.CheckpointError, match="align.npz: checkpoint "
                                                         "file not found"):
        checkpoint.load_checkpoint(b, str(tmp_path), parts=["alignment"])
    with pytest.raises(checkpoint.CheckpointError, match="folder not found"):
        checkpoint.load_checkpoint(b, str(tmp_path / "nope"))


def test_wrong_array_count_and_nan(tmp_path, nets):
    a, _ = nets
    checkpoint.atomic_savez(str(tmp_path / "-1_align.npz"), [np.zeros((23, 23))])
    with pytest.raises(checkpoint.CheckpointError, match="1 arrays.*5 parameters"):
        checkpoint.load_part(a, "alignment", str(tmp_path))
    arrays = [np.full(p.get_value().shape, np.nan, "f4")
              for p in a.part_params("alignment")]
    checkpoint.atomic_savez(str(tmp_path / "-1_align.npz"), arrays)
    with pytest.raises(checkpoint.CheckpointError, match="NaN"):
        checkpoint.load_part(a, "alignment", str(tmp_path))


def test_atomic_save_leaves_no_temp_file_on_failure(tmp_path, monkeypatch):
    def failing_savez(fh, *arrays, **named):
        fh.write(b"partial")
        raise OSError("disk full")
    monkeypatch.setattr(checkpoint.np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.atomic_savez(str(tmp_path / "x.npz"), [np.zeros(3)])
    assert os.listdir(tmp_path) == []
