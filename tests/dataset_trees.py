"""Write miniature NYU, ICVL and MSRA trees in their original on-disk formats.

Each frame's depth image holds a 'hand' of discs (radius 6 px) around the
projected joints, at the joints' depths, on an empty (0) background.
"""
import os
import struct

import numpy as np
import scipy.io
from PIL import Image

from crossnet.camera import RELEASE_CAMERAS


def random_hand_xyz(rng, num_joints, depth=450.0):
    centre = np.array([rng.normal(0, 20), rng.normal(0, 20), depth])
    return centre + rng.uniform(-60, 60, size=(num_joints, 3)) * [1, 1, 0.3]


def disc_depth(uvd, width, height, radius=6):
    depth = np.zeros((height, width), np.float32)
    yy, xx = np.mgrid[0:height, 0:width]
    for u, v, d in sorted(uvd, key=lambda j: -j[2]):   # far first
        depth[(xx - u) ** 2 + (yy - v) ** 2 <= radius ** 2] = d
    return depth


def write_icvl(root, rng, n_train=3, n_test=(2, 2), rotated=1):
    cam = RELEASE_CAMERAS["icvl"]
    frames = {}

    def write(base, label_file, names):
        lines = []
        for name in names:
            xyz = random_hand_xyz(rng, 16)
            uvd = cam.xyz_to_uvd(xyz)
            path = os.path.join(root, base, "Depth", name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            depth = disc_depth(uvd, 320, 240)
            Image.fromarray(np.round(depth).astype(np.uint16)).save(path)
            lines.append(name + " " + " ".join("%.4f" % v for v in uvd.ravel()))
            frames[name] = uvd
        with open(os.path.join(root, base, label_file), "a") as fh:
            fh.write("\n".join(lines) + "\n")

    train = ["201403121135/image_%04d.png" % i for i in range(n_train)]
    train += ["45/201403121135/image_%04d.png" % i for i in range(rotated)]
    write("Training", "labels.txt", train)
    for k, n in zip((1, 2), n_test):
        write("Testing", "test_seq_%d.txt" % k,
              ["test_seq_%d/image_%04d.png" % (k, i) for i in range(n)])
    return frames


def write_nyu(root, rng, split="train", n=3, centre_dir=None):
    cam = RELEASE_CAMERAS["nyu"]
    folder = os.path.join(root, split)
    os.makedirs(folder, exist_ok=True)
    xyz = np.stack([random_hand_xyz(rng, 36, depth=800.0) for _ in range(n)])
    uvd = cam.xyz_to_uvd(xyz)
    for i in range(n):
        d = np.round(disc_depth(uvd[i], 640, 480, radius=10)).astype(np.uint16)
        rgb = np.zeros((480, 640, 3), np.uint8)
        rgb[..., 1] = d >> 8
        rgb[..., 2] = d & 255
        Image.fromarray(rgb).save(os.path.join(folder, "depth_1_%07d.png" % (i + 1)))
    names = np.empty((1, 36), dtype=object)
    names[0] = ["J%d" % j for j in range(36)]
    # kinect x frames x 36 x 3, three kinects as in the original
    scipy.io.savemat(os.path.join(folder, "joint_data.mat"), {
        "joint_uvd": np.stack([uvd] * 3).astype(np.float32),
        "joint_xyz": np.stack([xyz] * 3).astype(np.float32),
        "joint_names": names})
    if centre_dir:
        os.makedirs(centre_dir, exist_ok=True)
        scipy.io.savemat(os.path.join(centre_dir, "center_uvd_%s.mat" % split),
                         {"center_uvd": cam.xyz_to_uvd(xyz.mean(1)).astype(np.float32)})
    return uvd


def bin_bytes(depth, box):
    left, top, right, bottom = box
    h, w = depth.shape
    return struct.pack("<6i", w, h, left, top, right, bottom) + \
        depth[top:bottom, left:right].astype("<f4").tobytes()


def write_msra(root, rng, subjects=("P0", "P1"), gestures=("1", "TIP"), n=2):
    cam = RELEASE_CAMERAS["msra"]
    out = {}
    for s in subjects:
        for g in gestures:
            folder = os.path.join(root, s, g)
            os.makedirs(folder, exist_ok=True)
            rows = []
            for k in range(n):
                xyz = random_hand_xyz(rng, 21, depth=400.0)
                uvd = cam.xyz_to_uvd(xyz)
                depth = disc_depth(uvd, 320, 240)
                ys, xs = np.nonzero(depth)
                box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
                with open(os.path.join(folder, "%06d_depth.bin" % k), "wb") as fh:
                    fh.write(bin_bytes(depth, box))
                file_xyz = xyz.copy()
                file_xyz[:, 2] *= -1     # joint.txt stores negative z
                rows.append(" ".join("%.6f" % v for v in file_xyz.ravel()))
                out[(s, g, k)] = xyz
            with open(os.path.join(folder, "joint.txt"), "w") as fh:
                fh.write("%d\n" % n + "\n".join(rows) + "\n")
    return out
