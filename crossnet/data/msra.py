"""MSRA15 hand gesture dataset (Sun et al. 2015), original layout.

``<root>/P0..P8/<gesture>/NNNNNN_depth.bin`` and one ``joint.txt`` per
gesture folder (first line: frame count; then one line of 21 x (x, y, z) mm
per frame; z is negated on load, as in the release). A ``.bin`` file is 6
int32 (image width, height, box left, top, right, bottom) followed by the
float32 depth (mm) of the box only, row by row.
"""
import os
import struct

import numpy as np

from ..camera import RELEASE_CAMERAS, xyz_to_uvd
from .common import DataError, Frame, require_dir, require_file

__all__ = ["MSRAReader", "read_bin", "read_joint_txt", "GESTURES", "SUBJECTS"]

GESTURES = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "I", "IP", "L", "MP",
            "RP", "T", "TIP", "Y"]
SUBJECTS = ["P%d" % i for i in range(9)]
NUM_JOINTS = 21


def read_bin(path):
    """(H, W) float32 depth in mm (0 outside the box) of one .bin file."""
    require_file(path, "MSRA depth file")
    with open(path, "rb") as fh:
        data = fh.read()
    if len(data) < 24:
        raise DataError("%s: %d bytes, too short for the 24-byte header"
                        % (path, len(data)))
    width, height, left, top, right, bottom = struct.unpack("<6i", data[:24])
    if width <= 0 or height <= 0 or width > 4096 or height > 4096:
        raise DataError("%s: header gives image size %dx%d" % (path, width, height))
    if right <= left or bottom <= top:
        raise DataError("%s: header gives a box of negative or zero size "
                        "(left %d, top %d, right %d, bottom %d)"
                        % (path, left, top, right, bottom))
    if left < 0 or top < 0 or right > width or bottom > height:
        raise DataError("%s: box (left %d, top %d, right %d, bottom %d) lies "
                        "outside the %dx%d image" % (path, left, top, right,
                                                     bottom, width, height))
    n = (right - left) * (bottom - top)
    if len(data) - 24 != 4 * n:
        raise DataError("%s: %d bytes of depth, the %dx%d box needs %d"
                        % (path, len(data) - 24, right - left, bottom - top,
                           4 * n))
    box = np.frombuffer(data, dtype="<f4", offset=24).reshape(bottom - top,
                                                              right - left)
    depth = np.zeros((height, width), dtype=np.float32)
    depth[top:bottom, left:right] = box
    return depth


def read_joint_txt(path):
    """(N, 21, 3) xyz mm with z negated (positive depth)."""
    require_file(path, "MSRA joint.txt")
    with open(path) as fh:
        lines = [ln.split() for ln in fh if ln.strip()]
    try:
        count = int(lines[0][0])
    except (IndexError, ValueError):
        raise DataError("%s: first line must be the frame count" % path)
    rows = lines[1:]
    if len(rows) != count:
        raise DataError("%s: header says %d frames, %d joint lines follow"
                        % (path, count, len(rows)))
    for k, r in enumerate(rows):
        if len(r) != 3 * NUM_JOINTS:
            raise DataError("%s, line %d: %d values, expected %d"
                            % (path, k + 2, len(r), 3 * NUM_JOINTS))
    for k, r in enumerate(rows):
        for v in r:
            try:
                float(v)
            except ValueError:
                raise DataError("%s, line %d: %r is not a number"
                                % (path, k + 2, v))
    xyz = np.array(rows, dtype=np.float64).reshape(count, NUM_JOINTS, 3)
    xyz[..., 2] *= -1
    return xyz


class MSRAReader(object):
    """Frames of the given subjects (leave-one-subject-out: see
    :meth:`split`). Gesture folders are read in GESTURES order."""

    camera = RELEASE_CAMERAS["msra"]

    def __init__(self, root, subjects=SUBJECTS):
        require_dir(root, "MSRA15 folder")
        self.items = []
        for subject in subjects:
            sdir = require_dir(os.path.join(root, subject),
                               "MSRA subject folder %s" % subject)
            gestures = [g for g in GESTURES if os.path.isdir(os.path.join(sdir, g))]
            if not gestures:
                raise DataError("%s: no gesture folders (%s)"
                                % (sdir, ", ".join(GESTURES)))
            for g in gestures:
                gdir = os.path.join(sdir, g)
                xyz = read_joint_txt(os.path.join(gdir, "joint.txt"))
                bins = sorted(f for f in os.listdir(gdir) if f.endswith("_depth.bin"))
                if len(bins) != len(xyz):
                    raise DataError("%s: %d frames in joint.txt, %d *_depth.bin "
                                    "files" % (gdir, len(xyz), len(bins)))
                for k in range(len(xyz)):
                    name = os.path.join(subject, g, "%06d_depth.bin" % k)
                    self.items.append((name, xyz[k]))
        self.root = root

    @classmethod
    def split(cls, root, test_subject, split):
        """Leave-one-subject-out: 'test' is ``test_subject``, 'train' the rest."""
        if test_subject not in SUBJECTS:
            raise ValueError("test subject must be one of %s" % SUBJECTS)
        if split == "test":
            return cls(root, [test_subject])
        if split == "train":
            return cls(root, [s for s in SUBJECTS if s != test_subject])
        raise ValueError("MSRA split must be 'train' or 'test', got %r" % split)

    def __len__(self):
        return len(self.items)

    def frame(self, i):
        name, xyz = self.items[i]
        depth = read_bin(os.path.join(self.root, name))
        return Frame(depth, xyz_to_uvd(xyz, self.camera), xyz, name, None)

    def __iter__(self):
        for i in range(len(self)):
            yield self.frame(i)
