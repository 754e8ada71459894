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
                             r"enc_fc1\.W.*\(108, 40\).*encoder of a nyu"):
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


def test_resolve_weights_accepts_run_and_checkpoint_folders(tmp_path, nets):
    a, _ = nets
    ckpt_dir = str(tmp_path / "ckpt")
    checkpoint.save_checkpoint(a, ckpt_dir)
    assert checkpoint.resolve_weights(ckpt_dir) == ckpt_dir
    run = str(tmp_path / "run")
    os.makedirs(run)
    (tmp_path / "run" / "config.json").write_text("{}")
    with pytest.raises(checkpoint.CheckpointError, match="without a checkpoint"):
        checkpoint.resolve_weights(run)
    checkpoint.save_run_checkpoint(run, a, {"vae/0": np.zeros(2)}, {"stage": "vae"})
    assert checkpoint.resolve_weights(run) == os.path.join(run, "checkpoint")
    # a crash between the two renames of a save leaves checkpoint.old/
    os.rename(os.path.join(run, "checkpoint"), os.path.join(run, "checkpoint.old"))
    assert checkpoint.resolve_weights(run) == os.path.join(run, "checkpoint.old")
    assert checkpoint.run_has_checkpoint(run)
    with pytest.raises(checkpoint.CheckpointError, match="neither a checkpoint"):
        checkpoint.resolve_weights(str(tmp_path))
    with pytest.raises(checkpoint.CheckpointError, match="not found"):
        checkpoint.resolve_weights(str(tmp_path / "nothing"))


def test_run_checkpoint_round_trip_and_named_errors(tmp_path, nets):
    a, b = nets
    run = str(tmp_path / "run")
    opt = {"gan/0": np.arange(3.0), "gan/1": np.ones((2, 2))}
    checkpoint.save_run_checkpoint(run, a, opt, {"stage": "gan", "batch": 2})
    checkpoint.save_run_checkpoint(run, a, opt, {"stage": "gan", "batch": 3})
    assert sorted(os.listdir(run)) == ["checkpoint"]     # no .tmp / .old left
    state, got = checkpoint.load_run_checkpoint(run, b)
    assert state == {"stage": "gan", "batch": 3}
    np.testing.assert_array_equal(got["gan/1"], opt["gan/1"])
    for p, q in zip(a.part_params("generator"), b.part_params("generator")):
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    with open(os.path.join(run, "checkpoint", "trainer_state.npz"), "r+b") as fh:
        fh.truncate(20)
    with pytest.raises(checkpoint.CheckpointError,
                       match=r"trainer_state\.npz: not a readable \.npz"):
        checkpoint.load_run_checkpoint(run, b)
    (tmp_path / "run" / "checkpoint" / "trainer_state.json").write_text("{oops")
    with pytest.raises(checkpoint.CheckpointError,
                       match=r"trainer_state\.json: not a readable trainer state"):
        checkpoint.load_run_checkpoint(run, b)
