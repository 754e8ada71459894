import os

import numpy as np
import pytest

from crossnet import cli
from crossnet.data.cache import CacheDataset, write_cache
from crossnet.data.common import DataError
from crossnet.data.preprocess import BadFrame
from crossnet.data.sources import open_source
from crossnet.data.synthetic import SyntheticHands, synthetic_params
from dataset_trees import write_icvl, write_msra, write_nyu


def test_icvl_tree_through_cache(tmp_path, rng):
    write_icvl(str(tmp_path / "icvl"), rng)
    src = open_source("icvl", str(tmp_path / "icvl"), "test", size=64)
    out = str(tmp_path / "icvl_test.h5")
    res = write_cache(out, src, "test", progress=False)
    assert res["frames"] == 4 and not os.path.exists(out + ".partial")
    with CacheDataset(out, expected=src.params) as data:
        assert len(data) == 4 and data.image_size == 64 and data.num_joints == 16
        b = data.read([3, 0], ("depth", "pose", "origin", "centre", "xyz"))
        assert b["depth"].min() == -1.0 and b["depth"].max() == 1.0
        from crossnet.data.preprocess import denormalise_joints
        np.testing.assert_allclose(
            denormalise_joints(b["pose"], b["origin"], b["centre"]), b["xyz"],
            atol=1e-3)


@pytest.mark.parametrize("dataset", ["nyu", "msra"])
def test_nyu_and_msra_trees_through_cache(tmp_path, rng, dataset):
    root = str(tmp_path / dataset)
    if dataset == "nyu":
        write_nyu(root, rng, "test", centre_dir=str(tmp_path / "c"))
        src = open_source("nyu", root, "test", size=32,
                          nyu_centre_file=str(tmp_path / "c" / "center_uvd_test.mat"))
        assert src.params.centre_method == "file"
    else:
        write_msra(root, rng, subjects=("P0",))
        src = open_source("msra", root, "test", size=32, msra_test_subject="P0")
    res = write_cache(str(tmp_path / "c.h5"), src, "test", progress=False)
    assert res["frames"] == len(src)


class FlakySource(object):
    """Synthetic frames; frame ``bad`` has empty depth, ``stop_at`` raises
    KeyboardInterrupt once (an interrupted run)."""

    def __init__(self, n, bad=(), stop_at=None):
        self.inner = SyntheticHands(n, seed=3, size=32)
        self.params = self.inner.params
        self.bad = set(bad)
        self.stop_at = stop_at

    def __len__(self):
        return len(self.inner)

    def signature(self):
        return self.inner.signature()

    def sample(self, i):
        if i == self.stop_at:
            self.stop_at = None
            raise KeyboardInterrupt
        if i in self.bad:
            raise BadFrame("frame_%d.png: depth image is all zero" % i)
        return self.inner.sample(i)


def test_resume_after_interruption_equals_uninterrupted(tmp_path):
    full = str(tmp_path / "full.h5")
    write_cache(full, FlakySource(50, bad=[7]), "train", block=8, progress=False)
    out = str(tmp_path / "resumed.h5")
    flaky = FlakySource(50, bad=[7], stop_at=21)
    with pytest.raises(KeyboardInterrupt):
        write_cache(out, flaky, "train", block=8, progress=False)
    assert not os.path.exists(out) and os.path.exists(out + ".partial")
    with pytest.raises(DataError, match="not finished"):
        CacheDataset(out)
    res = write_cache(out, flaky, "train", block=8, progress=False)
    assert res["resumed"] and res["frames"] == 49 and res["skipped"] == 1
    with CacheDataset(full) as a, CacheDataset(out) as b:
        for key in ("depth", "pose", "origin", "centre"):
            np.testing.assert_array_equal(a.h5[key][:], b.h5[key][:])
        assert list(a.h5["name"].asstr()[:]) == list(b.h5["name"].asstr()[:])


def test_forked_workers_write_the_same_file(tmp_path):
    one, two = str(tmp_path / "one.h5"), str(tmp_path / "two.h5")
    write_cache(one, FlakySource(30, bad=[7]), "train", block=8, progress=False)
    res = write_cache(two, FlakySource(30, bad=[7]), "train", block=8,
                      progress=False, workers=2)
    assert res["frames"] == 29 and res["skipped"] == 1
    with CacheDataset(one) as a, CacheDataset(two) as b:
        for key in ("depth", "pose", "origin", "centre"):
            np.testing.assert_array_equal(a.h5[key][:], b.h5[key][:])
        assert list(a.h5["name"].asstr()[:]) == list(b.h5["name"].asstr()[:])
    # a bad frame in fail mode is named as without workers
    with pytest.raises(DataError, match=r"frame_9.png: depth image is all zero "
                                        r"\(source frame 9; the 8 frames"):
        write_cache(str(tmp_path / "x.h5"), FlakySource(20, bad=[9]), "train",
                    on_bad="fail", block=4, progress=False, workers=2)


def test_bad_frame_in_fail_mode_is_named_and_progress_kept(tmp_path):
    out = str(tmp_path / "x.h5")
    with pytest.raises(DataError, match=r"frame_9.png: depth image is all zero "
                                        r"\(source frame 9; the 8 frames"):
        write_cache(out, FlakySource(20, bad=[9]), "train", on_bad="fail",
                    block=4, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["x.h5.lock", "x.h5.partial"]
    # the frame fixed: the run resumes after the 8 frames already written
    res = write_cache(out, FlakySource(20), "train", block=4, progress=False)
    assert res["resumed"] and res["frames"] == 20
    full = str(tmp_path / "full.h5")
    write_cache(full, FlakySource(20), "train", block=4, progress=False)
    with CacheDataset(full) as a, CacheDataset(out) as b:
        np.testing.assert_array_equal(a.h5["depth"][:], b.h5["depth"][:])


def test_failed_write_names_the_file_and_resumes(tmp_path, monkeypatch):
    from crossnet.data import cache
    out = str(tmp_path / "x.h5")
    original, calls = cache._append, {"n": 0}

    def disk_full(h5, block):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return original(h5, block)
    monkeypatch.setattr(cache, "_append", disk_full)
    with pytest.raises(DataError, match=r"x.h5.partial: writing source frames "
                                        r"8-11 failed \(.*No space left"):
        write_cache(out, FlakySource(20), "train", block=4, progress=False)
    monkeypatch.setattr(cache, "_append", original)
    res = write_cache(out, FlakySource(20), "train", block=4, progress=False)
    assert res["resumed"] and res["frames"] == 20


def test_resume_or_reuse_with_other_source_options_is_refused(tmp_path):
    out = str(tmp_path / "mix.h5")
    with pytest.raises(KeyboardInterrupt):
        write_cache(out, FlakySource(20, stop_at=10), "train", block=4,
                    progress=False)
    other = FlakySource(20)
    other.inner = SyntheticHands(20, seed=4, size=32)
    with pytest.raises(DataError, match=r"mix.h5.partial: made from other data "
                                        r"\(.*seed: 3 in the file, 4 now"):
        write_cache(out, other, "train", block=4, progress=False)
    write_cache(out, FlakySource(20), "train", block=4, progress=False)
    with pytest.raises(DataError, match=r"mix.h5: made from other data"):
        write_cache(out, other, "train", block=4, progress=False)
    res = write_cache(out, other, "train", block=4, progress=False, overwrite=True)
    assert res["frames"] == 20 and not res["resumed"]


def test_nan_or_implausible_labels_are_bad_frames(tmp_path, rng):
    from crossnet.data.sources import open_source
    root = str(tmp_path / "msra")
    write_msra(root, rng, subjects=("P0", "P1"), gestures=("1",), n=3)
    path = os.path.join(root, "P1", "1", "joint.txt")
    lines = open(path).read().split("\n")
    values = lines[2].split()
    values[4] = "nan"
    lines[2] = " ".join(values)
    values = lines[3].split()
    values[5] = "1e6"             # joint 1's z: 1e6 mm
    lines[3] = " ".join(values)
    open(path, "w").write("\n".join(lines))
    src = open_source("msra", root, "test", size=32, msra_test_subject="P1")
    with pytest.warns(UserWarning, match="skipped 2 frame"):
        res = write_cache(str(tmp_path / "m.h5"), src, "train", progress=False)
    assert res["frames"] == 1 and res["skipped"] == 2
    with pytest.raises(DataError, match="joint labels hold NaN"):
        write_cache(str(tmp_path / "f.h5"), src, "train", on_bad="fail",
                    progress=False)


def test_skip_mode_counts_and_warns(tmp_path):
    with pytest.warns(UserWarning, match="skipped 2 frame"):
        res = write_cache(str(tmp_path / "x.h5"), FlakySource(10, bad=[2, 3]),
                          "train", progress=False)
    assert res["frames"] == 8 and res["skipped"] == 2


def test_other_preprocessing_parameters_are_detected(tmp_path):
    out = str(tmp_path / "x.h5")
    write_cache(out, SyntheticHands(4, size=32), "train", progress=False)
    with pytest.raises(DataError, match="x.h5: written with other preprocessing"
                                        " parameters; differs in size"):
        CacheDataset(out, expected=synthetic_params(size=64))
    with pytest.raises(DataError, match="x.h5: written with other"):
        write_cache(out, SyntheticHands(4, size=64), "train", progress=False)
    with pytest.raises(DataError, match="not found"):
        CacheDataset(str(tmp_path / "none.h5"))
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(DataError, match="junk.h5: not a readable HDF5"):
        CacheDataset(str(tmp_path / "junk.h5"))


def test_read_returns_frames_in_the_order_asked(tmp_path):
    out = str(tmp_path / "x.h5")
    write_cache(out, SyntheticHands(10, size=32), "train", progress=False)
    with CacheDataset(out) as data:
        names = data.read(np.arange(10), ("name",))["name"]
        b = data.read(np.array([7, 2, 9]), ("depth", "name"))
        assert b["depth"].shape == (3, 32, 32)
        assert list(b["name"]) == [names[7], names[2], names[9]]
        np.testing.assert_array_equal(b["depth"][1],
                                      data.read(np.array([2]))["depth"][0])
        with pytest.raises(ValueError, match="duplicate"):
            data.read(np.array([1, 1]))


def test_whole_arrays_are_read_once_per_file_and_again_when_it_changes(tmp_path):
    path = str(tmp_path / "s.h5")
    write_cache(path, SyntheticHands(6, seed=1, size=32), "train", progress=False)
    with CacheDataset(path) as a:
        depth = a.read_whole("depth")
        expected = a.h5["depth"][:]
        assert np.array_equal(depth, expected) and not depth.flags.writeable
        # indexed in memory now: the same frames, in the order asked
        b = a.read([4, 0, 2], ("depth", "pose"))
        assert np.array_equal(b["depth"], expected[[4, 0, 2]])
        assert np.array_equal(b["pose"], a.h5["pose"][:][[4, 0, 2]])
    with CacheDataset(path) as again:          # another reader, same file
        assert again.read_whole("depth") is depth
    write_cache(path, SyntheticHands(6, seed=2, size=32), "train",
                progress=False, overwrite=True)
    with CacheDataset(path) as changed:
        fresh = changed.read_whole("depth")
        assert fresh is not depth
        assert np.array_equal(fresh, changed.h5["depth"][:])
        assert not np.array_equal(fresh, depth)
        assert np.array_equal(changed.read([1], ("depth",))["depth"][0], fresh[1])


def test_prepare_and_show_commands(tmp_path, capsys):
    out = str(tmp_path / "s.h5")
    assert cli.main(["prepare", "--dataset", "synthetic", "--out", out,
                     "--frames", "6", "--size", "64", "--quiet"]) == 0
    assert "6 frames" in capsys.readouterr().out
    png = str(tmp_path / "grid.png")
    assert cli.main(["show", "--data", out, "--out", png, "--frames", "4"]) == 0
    assert os.path.getsize(png) > 0
    assert cli.main(["prepare", "--dataset", "icvl", "--data-dir",
                     str(tmp_path / "nothing"), "--out", out]) == 2
    assert "ICVL Training folder not found" in capsys.readouterr().err


def test_concurrent_prepare_into_the_same_file_fails_at_once(tmp_path, capsys):
    import subprocess
    import sys
    import time
    out = str(tmp_path / "c.h5")
    args = ["prepare", "--dataset", "synthetic", "--frames", "6000", "--size",
            "32", "--seed", "3", "--out", out, "--quiet"]
    first = subprocess.Popen([sys.executable, "-m", "crossnet.cli"] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not os.path.exists(out + ".partial") and first.poll() is None \
                and time.time() < deadline:
            time.sleep(0.05)
        assert os.path.exists(out + ".partial"), first.communicate()
        assert cli.main(args) == 2
        assert "c.h5 is being written by another process" in capsys.readouterr().err
        assert os.path.exists(out + ".partial")     # the first's work is intact
        assert first.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
    with CacheDataset(out) as data:
        assert len(data) == 6000


@pytest.mark.parametrize("arg, value", [("--size", "0"), ("--size", "48"),
                                        ("--frames", "0"), ("--cube", "-1")])
def test_prepare_arguments_are_checked_by_the_parser(tmp_path, arg, value):
    out = str(tmp_path / "x.h5")
    with pytest.raises(SystemExit) as exc:
        cli.main(["prepare", "--dataset", "synthetic", "--out", out, arg, value])
    assert exc.value.code == 2
    assert os.listdir(tmp_path) == []
