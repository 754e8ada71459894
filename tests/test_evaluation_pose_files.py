import numpy as np
import pytest

from crossnet.evaluation.pose_files import (PoseFileError, read_pose_file,
                                            write_pose_file)


def test_round_trip_and_crlf(tmp_path):
    uvd = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3) + 0.25
    path = str(tmp_path / "p.txt")
    write_pose_file(path, uvd)
    np.testing.assert_allclose(read_pose_file(path, num_joints=3), uvd)
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(b"1 2 3 4 5 6 \r\n7\t8 9 10 11 12\r\n\r\n")
    assert read_pose_file(str(crlf)).shape == (2, 2, 3)


@pytest.mark.parametrize("content, message", [
    ("1 2 3 4 5 6\n1 2 3\n", "line 2: 3 values, expected 6"),
    ("1 2 3\n1 x 3\n", "line 2: 'x' is not a number"),
    ("1 2 3 4\n", "line 1: 4 values is not a multiple of 3"),
    ("1 2 nan\n", "line 1: NaN"),
    ("\n\n", "no frames"),
])
def test_bad_files_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(PoseFileError, match="bad.txt.*" + message):
        read_pose_file(str(path))


def test_missing_and_wrong_joint_count(tmp_path):
    with pytest.raises(PoseFileError, match="not found"):
        read_pose_file(str(tmp_path / "none.txt"))
    path = tmp_path / "p.txt"
    path.write_text("1 2 3 4 5 6\n")
    with pytest.raises(PoseFileError, match="6 values, expected 9"):
        read_pose_file(str(path), num_joints=3)


def test_write_refuses_nan_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_pose_file(str(tmp_path / "p.txt"), np.full((1, 2, 3), np.nan))
    assert list(tmp_path.iterdir()) == []
