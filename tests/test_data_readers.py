import os
import struct

import numpy as np
import pytest
from PIL import Image

from crossnet.camera import RELEASE_CAMERAS
from crossnet.data.common import DataError
from crossnet.data.icvl import ICVLReader
from crossnet.data.msra import MSRAReader, read_bin
from crossnet.data.nyu import EVAL_JOINTS, NYUReader
from dataset_trees import bin_bytes, write_icvl, write_msra, write_nyu


def test_icvl_train_test_and_rotations(tmp_path, rng):
    labels = write_icvl(str(tmp_path), rng)
    train = ICVLReader(str(tmp_path), "train")
    assert len(train) == 4
    assert len(ICVLReader(str(tmp_path), "train", rotations=False)) == 3
    test = ICVLReader(str(tmp_path), "test")
    assert len(test) == 4
    f = test.frame(0)
    assert f.name == "test_seq_1/image_0000.png"
    assert f.depth.shape == (240, 320) and f.depth.dtype == np.float32
    np.testing.assert_allclose(f.uvd, labels[f.name], atol=1e-3)
    np.testing.assert_allclose(f.xyz, RELEASE_CAMERAS["icvl"].uvd_to_xyz(f.uvd))
    u, v, d = np.round(f.uvd[0]).astype(int)
    assert abs(f.depth[v, u] - f.uvd[0, 2]) < 60


def test_nyu_depth_from_green_and_blue(tmp_path, rng):
    uvd = write_nyu(str(tmp_path), rng, centre_dir=str(tmp_path / "centres"))
    r = NYUReader(str(tmp_path), "train",
                  centre_file=str(tmp_path / "centres" / "center_uvd_train.mat"))
    assert len(r) == 3
    f = r.frame(1)
    assert f.name == "depth_1_0000002.png"
    u, v, d = np.round(uvd[1, 0]).astype(int)
    # depth = (G << 8) + B, in mm; the disc of a nearer joint may cover it
    assert 0 < f.depth[v, u] <= round(uvd[1, 0, 2]) + 1e-3
    assert f.depth.max() > 255           # needs the high byte
    assert f.centre.shape == (3,)
    assert NYUReader(str(tmp_path), "train", joints="eval").frame(0).uvd.shape == (14, 3)
    np.testing.assert_allclose(
        NYUReader(str(tmp_path), "train", joints="eval").frame(0).uvd,
        uvd[0, EVAL_JOINTS], atol=1e-3)


def test_msra_bins_joints_and_leave_one_out(tmp_path, rng):
    xyz = write_msra(str(tmp_path), rng)
    test = MSRAReader.split(str(tmp_path), "P1", "test")
    assert len(test) == 4
    f = test.frame(0)
    assert f.name == os.path.join("P1", "1", "000000_depth.bin")
    np.testing.assert_allclose(f.xyz, xyz[("P1", "1", 0)], atol=1e-4)
    assert f.xyz[0, 2] > 0                  # z negated on load
    u, v, d = np.round(f.uvd[0]).astype(int)
    assert f.depth[v, u] > 0
    with pytest.raises(DataError, match="P2"):
        MSRAReader.split(str(tmp_path), "P0", "train")  # P2..P8 missing


# ---- bad input ------------------------------------------------------------

def test_missing_folders_and_label_files(tmp_path, rng):
    with pytest.raises(DataError, match="Training.*not found"):
        ICVLReader(str(tmp_path), "train")
    with pytest.raises(DataError, match="NYU train folder not found"):
        NYUReader(str(tmp_path), "train")
    os.makedirs(tmp_path / "train")
    with pytest.raises(DataError, match="joint_data.mat.*not found"):
        NYUReader(str(tmp_path), "train")
    with pytest.raises(DataError, match="MSRA15 folder not found"):
        MSRAReader(str(tmp_path / "msra"))


def test_label_count_mismatch(tmp_path, rng):
    write_icvl(str(tmp_path / "icvl"), rng)
    os.remove(tmp_path / "icvl" / "Testing" / "Depth" / "test_seq_2" / "image_0001.png")
    with pytest.raises(DataError, match=r"test_seq_2.txt: 2 frames labelled in "
                                        r"test_seq_2/, 1 PNG.*missing: .*"
                                        r"test_seq_2/image_0001.png"):
        ICVLReader(str(tmp_path / "icvl"), "test")
    write_nyu(str(tmp_path / "nyu"), rng)
    os.remove(tmp_path / "nyu" / "train" / "depth_1_0000003.png")
    with pytest.raises(DataError, match="joint_data.mat: 3 frames labelled, 2.*"
                                        "missing: .*train/depth_1_0000003.png"):
        NYUReader(str(tmp_path / "nyu"), "train")
    write_msra(str(tmp_path / "msra"), rng)
    os.remove(tmp_path / "msra" / "P0" / "TIP" / "000001_depth.bin")
    with pytest.raises(DataError, match="TIP: 2 frames in joint.txt, 1"):
        MSRAReader(str(tmp_path / "msra"), ["P0"])
    with open(tmp_path / "msra" / "P1" / "1" / "joint.txt", "w") as fh:
        fh.write("3\n" + " ".join(["1"] * 63) + "\n")
    with pytest.raises(DataError, match="header says 3 frames, 1 joint lines"):
        MSRAReader(str(tmp_path / "msra"), ["P1"])
    with open(tmp_path / "msra" / "P1" / "1" / "joint.txt", "w") as fh:
        fh.write("1\n" + " ".join(["1"] * 62 + ["abc"]) + "\n")
    with pytest.raises(DataError, match=r"P1/1/joint.txt, line 2: 'abc' is not "
                                        r"a number"):
        MSRAReader(str(tmp_path / "msra"), ["P1"])


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:20], "too short for the 24-byte header"),
    (lambda b: struct.pack("<6i", 320, 240, 300, 10, 330, 20) + b[24:],
     "outside the 320x240 image"),
    (lambda b: struct.pack("<6i", 320, 240, 50, 10, 40, 20) + b[24:],
     "negative or zero size"),
    (lambda b: b[:-8], "bytes of depth"),
])
def test_corrupt_bin_files(tmp_path, mutate, message):
    depth = np.zeros((240, 320), np.float32)
    depth[100:110, 50:60] = 400
    good = bin_bytes(depth, (50, 100, 60, 110))
    path = tmp_path / "000000_depth.bin"
    path.write_bytes(good)
    assert read_bin(str(path))[105, 55] == 400
    path.write_bytes(mutate(good))
    with pytest.raises(DataError, match="000000_depth.bin: .*" + message):
        read_bin(str(path))


def test_png_of_wrong_size_or_bit_depth(tmp_path, rng):
    write_icvl(str(tmp_path), rng)
    reader = ICVLReader(str(tmp_path), "test")
    path = tmp_path / "Testing" / "Depth" / "test_seq_1" / "image_0000.png"
    Image.fromarray(np.zeros((240, 320), np.uint8)).save(path)
    with pytest.raises(DataError, match="image_0000.png: PNG mode L, expected 16-bit"):
        reader.frame(0)
    Image.fromarray(np.zeros((100, 100), np.uint16)).save(path)
    with pytest.raises(DataError, match="image_0000.png: image is 100x100, "
                                        "expected 320x240"):
        reader.frame(0)
    path.write_bytes(b"garbage")
    with pytest.raises(DataError, match="not a readable PNG"):
        reader.frame(0)
