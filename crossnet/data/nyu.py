"""NYU hand pose dataset (Tompson et al. 2014), original layout.

``<root>/{train,test}/joint_data.mat`` (``joint_names`` 36, ``joint_uvd``
and ``joint_xyz``: kinect x frames x 36 x 3) and
``depth_<camera>_<frame:07d>.png``: 640x480 RGB, depth mm = (G << 8) + B.
Hand centres: ``center_uvd_{train,test}.mat`` (``center_uvd``, frames x 3),
as shipped with the authors' release (``../shared/reference/nyu_centers``).
"""
import glob
import os

import numpy as np

from ..camera import RELEASE_CAMERAS, uvd_to_xyz
from ..conventions import NYU_EVAL_JOINTS as EVAL_JOINTS
from .common import (DataError, Frame, missing_files_note, read_png,
                     require_dir, require_file)

__all__ = ["NYUReader", "EVAL_JOINTS", "load_nyu_centres", "nyu_rgb_to_depth"]


def nyu_rgb_to_depth(rgb):
    """(H, W, 3) uint8 NYU depth PNG -> (H, W) float32 mm: (G << 8) + B."""
    rgb = np.asarray(rgb).astype(np.uint16)
    return ((rgb[..., 1] << 8) + rgb[..., 2]).astype(np.float32)



def _loadmat(path):
    import scipy.io
    try:
        return scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for bad files
        raise DataError("%s: not a readable MATLAB file (%s)" % (path, exc))


def load_nyu_centres(path, frames=None):
    """(N, 3) uvd hand centres from ``center_uvd_*.mat``."""
    m = _loadmat(require_file(path, "NYU centre file"))
    if "center_uvd" not in m:
        raise DataError("%s: no 'center_uvd' array" % path)
    c = np.asarray(m["center_uvd"], dtype=np.float64)
    if c.ndim != 2 or c.shape[1] != 3:
        raise DataError("%s: center_uvd has shape %s, expected (N, 3)"
                        % (path, c.shape))
    if frames is not None and len(c) != frames:
        raise DataError("%s: %d centres for %d frames" % (path, len(c), frames))
    return c


class NYUReader(object):
    """Frames of one NYU split (camera 1 by default).

    ``joints='all'`` keeps the 36 joints, ``'eval'`` the 14 evaluation ones.
    ``centre_file`` gives the hand centres (Frame.centre).
    """

    camera = RELEASE_CAMERAS["nyu"]
    size = (640, 480)

    def __init__(self, root, split="train", kinect=1, joints="all",
                 centre_file=None):
        if split not in ("train", "test"):
            raise ValueError("NYU split must be 'train' or 'test', got %r" % split)
        self.root = root
        self.folder = require_dir(os.path.join(root, split),
                                  "NYU %s folder" % split)
        self.kinect = int(kinect)
        mat_path = require_file(os.path.join(self.folder, "joint_data.mat"),
                                "NYU label file joint_data.mat")
        m = _loadmat(mat_path)
        if "joint_uvd" not in m:
            raise DataError("%s: no 'joint_uvd' array" % mat_path)
        uvd = np.asarray(m["joint_uvd"], dtype=np.float64)
        if uvd.ndim != 4 or uvd.shape[2:] != (36, 3):
            raise DataError("%s: joint_uvd has shape %s, expected (kinects, "
                            "frames, 36, 3)" % (mat_path, uvd.shape))
        if not 1 <= self.kinect <= uvd.shape[0]:
            raise DataError("%s: camera %d requested, file has %d"
                            % (mat_path, self.kinect, uvd.shape[0]))
        self.uvd = uvd[self.kinect - 1]
        if joints == "eval":
            self.uvd = self.uvd[:, EVAL_JOINTS]
        elif joints != "all":
            raise ValueError("joints must be 'all' or 'eval', got %r" % joints)
        pngs = glob.glob(os.path.join(self.folder, "depth_%d_*.png" % self.kinect))
        if len(pngs) != len(self.uvd):
            have = {os.path.basename(p) for p in pngs}
            missing = [self.name(i) for i in range(len(self.uvd))
                       if self.name(i) not in have]
            raise DataError("%s: %d frames labelled, %d depth_%d_*.png files in "
                            "%s%s" % (mat_path, len(self.uvd), len(pngs),
                                      self.kinect, self.folder,
                                      missing_files_note(missing, self.folder)))
        self.centres = None
        if centre_file is not None:
            self.centres = uvd_to_xyz(load_nyu_centres(centre_file,
                                                       len(self.uvd)),
                                      self.camera)

    def __len__(self):
        return len(self.uvd)

    def name(self, i):
        return "depth_%d_%07d.png" % (self.kinect, i + 1)

    def read_depth(self, i):
        path = os.path.join(self.folder, self.name(i))
        return nyu_rgb_to_depth(read_png(path, "rgb", self.size))

    def frame(self, i):
        uvd = self.uvd[i]
        return Frame(self.read_depth(i), uvd, uvd_to_xyz(uvd, self.camera),
                     self.name(i),
                     None if self.centres is None else self.centres[i])

    def __iter__(self):
        for i in range(len(self)):
            yield self.frame(i)
