"""Preprocessed frame sources: a dataset reader + the preprocessing.

A source has ``params`` (:class:`PreprocessParams`), ``__len__``,
``sample(i)`` returning dict(depth (S, S) in [-1, 1], pose (J, 3), origin
(3,), centre (3,) mm, xyz (J, 3) mm, name) or raising BadFrame, and
``signature()``: a JSON-able dict of everything else that shapes the
content (data folder, split options, seed, frame count, pose file), which
the cache stores so that a resume or a reuse with other options is refused.
"""
import os

import numpy as np

from ..camera import RELEASE_CAMERAS
from ..conventions import (CENTRE_METHODS, DATASETS, ROOT_JOINT,
                           TEST_SEED_OFFSET)
from .common import DataError
from .preprocess import (BadFrame, PreprocessParams, find_centre,
                         preprocess_frame)

__all__ = ["ReaderSource", "open_source", "default_nyu_centre_file",
           "check_labels"]


MAX_LABEL_MM = 5000.0     # no hand benchmark labels a joint farther away


def check_labels(xyz):
    """Raise BadFrame for NaN/inf joints or implausible ones (depth <= 0 or
    farther than 5 m from the camera)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    if not np.all(np.isfinite(xyz)):
        raise BadFrame("joint labels hold NaN or inf")
    if np.any(xyz[..., 2] <= 0) or np.any(np.abs(xyz) > MAX_LABEL_MM):
        raise BadFrame("implausible joint labels (depth <= 0 mm or beyond "
                       "%g mm: z from %.1f to %.1f mm)"
                       % (MAX_LABEL_MM, xyz[..., 2].min(), xyz[..., 2].max()))


def default_nyu_centre_file(split):
    """``$CROSSNET_REFERENCE/nyu_centers/center_uvd_<split>.mat`` or None."""
    ref = os.environ.get("CROSSNET_REFERENCE")
    if not ref:
        return None
    path = os.path.join(ref, "nyu_centers", "center_uvd_%s.mat" % split)
    return path if os.path.isfile(path) else None


class ReaderSource(object):
    """Wraps a dataset reader (NYU, ICVL, MSRA) with the preprocessing."""

    def __init__(self, reader, params, data_dir, options=None):
        self.reader = reader
        self.params = params
        self.data_dir = data_dir
        self.options = dict(options or {})

    def __len__(self):
        return len(self.reader)

    def signature(self):
        return dict(self.options, kind=type(self.reader).__name__,
                    data_dir=os.path.abspath(self.data_dir), frames=len(self))

    def sample(self, i):
        frame = self.reader.frame(i)
        where = os.path.join(self.data_dir, frame.name)
        try:
            if not np.all(np.isfinite(frame.depth)):
                raise BadFrame("depth holds NaN or inf")
            if not np.any(frame.depth > 0):
                raise BadFrame("depth image is all zero")
            check_labels(frame.xyz)
            centre = find_centre(frame.depth, self.params, frame.xyz,
                                 frame.centre)
            out = preprocess_frame(frame.depth, frame.xyz, centre, self.params)
        except BadFrame as exc:
            raise BadFrame("%s: %s" % (where, exc))
        out["xyz"] = frame.xyz
        out["name"] = frame.name
        return out


def open_source(dataset, data_dir=None, split="train", size=128, cube_mm=250.0,
                centre=None, nyu_centre_file=None, icvl_rotations=True,
                msra_test_subject="P0", num_frames=1000, seed=0, poses=None):
    """The preprocessed source of ``dataset`` ('nyu', 'icvl', 'msra',
    'synthetic'); readers check the on-disk layout on opening."""
    if dataset == "synthetic":
        from .synthetic import SyntheticHands
        # distinct default seeds for the train and test splits
        return SyntheticHands(num_frames, seed=seed + (0 if split == "train"
                                                       else TEST_SEED_OFFSET),
                              size=size, poses=poses, cube_mm=cube_mm)
    if data_dir is None:
        raise DataError("--data-dir is required for dataset %s" % dataset)
    if dataset == "nyu":
        from .nyu import NYUReader
        nyu_centre_file = nyu_centre_file or default_nyu_centre_file(split)
        centre = centre or ("file" if nyu_centre_file else "com")
        if centre == "file" and not nyu_centre_file:
            raise DataError("NYU centres requested but no centre file given "
                            "(--centres FILE or $CROSSNET_REFERENCE)")
        reader = NYUReader(data_dir, split,
                           centre_file=nyu_centre_file if centre == "file" else None)
    elif dataset == "icvl":
        from .icvl import ICVLReader
        reader = ICVLReader(data_dir, split, rotations=icvl_rotations)
    elif dataset == "msra":
        from .msra import MSRAReader
        reader = MSRAReader.split(data_dir, msra_test_subject, split)
    else:
        raise ValueError("unknown dataset %r; choose one of %s"
                         % (dataset, ", ".join(DATASETS)))
    centre = centre or "com"
    if centre not in CENTRE_METHODS:
        raise ValueError("centre must be one of %s, got %r"
                         % (", ".join(CENTRE_METHODS), centre))
    params = PreprocessParams(dataset, float(cube_mm), int(size),
                              RELEASE_CAMERAS[dataset], ROOT_JOINT[dataset], centre)
    options = {"split": split}
    if dataset == "nyu":
        options["centre_file"] = (os.path.abspath(nyu_centre_file)
                                  if centre == "file" else None)
    elif dataset == "icvl":
        options["rotations"] = bool(icvl_rotations)
    else:
        options["test_subject"] = msra_test_subject
    return ReaderSource(reader, params, data_dir, options)
