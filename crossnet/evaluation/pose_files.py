"""Pose files in the public benchmark format (SPEC section 7).

One line per frame, ``u v d`` per joint (pixels, pixels, mm), separated by
any whitespace (some files use CRLF or trailing spaces).
"""
import os

import numpy as np

from ..fileio import atomic_write_text

__all__ = ["read_pose_file", "write_pose_file", "PoseFileError"]


class PoseFileError(ValueError):
    """A pose file is missing or malformed; the message names file and line."""


def read_pose_file(path, num_joints=None):
    """(N, J, 3) float64 array of the file's (u, v, d) per joint.

    ``num_joints`` checks the joint count; otherwise it is taken from the
    first line. Raises PoseFileError naming the file and line for ragged
    lines, non-numbers, NaN/inf or an empty file.
    """
    if not os.path.isfile(path):
        raise PoseFileError("%s: pose file not found" % path)
    rows = []
    width = None if num_joints is None else 3 * num_joints
    with open(path, "rb") as fh:
        head = fh.read(3)
        if head[:2] == b"\x1f\x8b":
            raise PoseFileError("%s: a gzip-compressed file; decompress it "
                                "first (gunzip)" % path)
        fh.seek(3 if head == b"\xef\xbb\xbf" else 0)   # skip a UTF-8 BOM
        for lineno, raw in enumerate(fh, start=1):
            fields = raw.split()
            if not fields:
                continue
            try:
                values = [float(f) for f in fields]
            except ValueError:
                bad = next(f for f in fields if not _is_number(f))
                raise PoseFileError("%s, line %d: %r is not a number"
                                    % (path, lineno, bad.decode("latin-1")))
            if width is None:
                if len(values) % 3:
                    raise PoseFileError(
                        "%s, line %d: %d values is not a multiple of 3 (u v d "
                        "per joint)" % (path, lineno, len(values)))
                width = len(values)
            if len(values) != width:
                raise PoseFileError(
                    "%s, line %d: %d values, expected %d (%d joints x 3)"
                    % (path, lineno, len(values), width, width // 3))
            if not np.all(np.isfinite(values)):
                raise PoseFileError("%s, line %d: NaN or inf value"
                                    % (path, lineno))
            rows.append(values)
    if not rows:
        raise PoseFileError("%s: no frames (empty file)" % path)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1, 3)


def _is_number(field):
    try:
        float(field)
        return True
    except ValueError:
        return False


def write_pose_file(path, uvd):
    """Write (N, J, 3) u v d values, one frame per line (temp file + rename)."""
    uvd = np.asarray(uvd, dtype=np.float64)
    if uvd.ndim != 3 or uvd.shape[2] != 3:
        raise ValueError("write_pose_file(%s): expected (N, J, 3), got %s"
                         % (path, uvd.shape))
    if not np.all(np.isfinite(uvd)):
        raise ValueError("write_pose_file(%s): NaN or inf in predictions" % path)
    lines = "".join(" ".join("%.6f" % v for v in frame) + "\n"
                    for frame in uvd.reshape(len(uvd), -1))
    atomic_write_text(path, lines)
