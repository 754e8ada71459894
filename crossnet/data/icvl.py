"""ICVL hand posture dataset (Tang et al. 2014), original layout.

Training: ``Training/labels.txt`` (one line per frame: image path relative
to ``Training/Depth/``, then 16 x (u, v, d)) and 16-bit PNGs (320x240, mm).
Testing: ``Testing/test_seq_1.txt``, ``Testing/test_seq_2.txt`` (same line
format, paths like ``test_seq_1/image_0000.png``), images in
``Testing/Depth/``. The training set also holds in-plane rotated copies;
their first path component is a short rotation name (<= 6 characters, as
DeepPrior's importer tells them apart), originals start with the long
sequence name (e.g. ``201403121135/image_0000.png``).
"""
import glob
import os
from collections import Counter

import numpy as np

from ..camera import RELEASE_CAMERAS, uvd_to_xyz
from .common import (DataError, Frame, missing_files_note, read_png,
                     require_dir, require_file)

__all__ = ["ICVLReader", "read_icvl_labels", "is_rotated_copy"]

NUM_JOINTS = 16


def is_rotated_copy(name):
    return len(name.replace("\\", "/").split("/")[0]) <= 6


def read_icvl_labels(path):
    """[(name, uvd (16, 3))] of an ICVL label file, checked line by line."""
    require_file(path, "ICVL label file")
    out = []
    with open(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 1 + 3 * NUM_JOINTS:
                raise DataError("%s, line %d: %d fields, expected an image "
                                "path and %d numbers" % (path, lineno,
                                                         len(parts),
                                                         3 * NUM_JOINTS))
            try:
                uvd = np.array(parts[1:], dtype=np.float64).reshape(-1, 3)
            except ValueError:
                raise DataError("%s, line %d: non-numeric joint value"
                                % (path, lineno))
            if not np.all(np.isfinite(uvd)):
                raise DataError("%s, line %d: NaN joint value" % (path, lineno))
            out.append((parts[0], uvd))
    if not out:
        raise DataError("%s: no labelled frames" % path)
    return out


class ICVLReader(object):
    """Frames of ICVL 'train' (``rotations=False`` drops rotated copies) or
    'test' (test_seq_1 then test_seq_2, 702 + 894 frames)."""

    camera = RELEASE_CAMERAS["icvl"]
    size = (320, 240)

    def __init__(self, root, split="train", rotations=True):
        if split == "train":
            base = require_dir(os.path.join(root, "Training"),
                               "ICVL Training folder")
            label_files = [os.path.join(base, "labels.txt")]
        elif split == "test":
            base = require_dir(os.path.join(root, "Testing"),
                               "ICVL Testing folder")
            label_files = [os.path.join(base, "test_seq_%d.txt" % k)
                           for k in (1, 2)]
        else:
            raise ValueError("ICVL split must be 'train' or 'test', got %r"
                             % split)
        self.depth_dir = require_dir(os.path.join(base, "Depth"),
                                     "ICVL Depth folder")
        self.items = []
        for path in label_files:
            labels = read_icvl_labels(path)
            self._check_images(path, labels)
            self.items.extend(labels)
        if not rotations:
            self.items = [it for it in self.items if not is_rotated_copy(it[0])]

    def _check_images(self, label_path, labels):
        """Each labelled folder holds exactly as many PNGs as labels."""
        per_folder = Counter(os.path.dirname(name) for name, _ in labels)
        for folder, n in per_folder.items():
            found = glob.glob(os.path.join(self.depth_dir, folder, "*.png"))
            if len(found) != n:
                have = {os.path.relpath(p, self.depth_dir) for p in found}
                missing = sorted(name for name, _ in labels
                                 if os.path.dirname(name) == folder
                                 and name not in have)
                raise DataError("%s: %d frames labelled in %s/, %d PNG images "
                                "in %s%s" % (label_path, n, folder, len(found),
                                             os.path.join(self.depth_dir, folder),
                                             missing_files_note(missing, self.depth_dir)))

    def __len__(self):
        return len(self.items)

    def frame(self, i):
        name, uvd = self.items[i]
        depth = read_png(os.path.join(self.depth_dir, name), "depth16", self.size)
        return Frame(depth, uvd, uvd_to_xyz(uvd, self.camera), name, None)

    def __iter__(self):
        for i in range(len(self)):
            yield self.frame(i)
