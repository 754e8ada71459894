"""Built-in synthetic hand depth data: no download needed.

A kinematic hand in the ICVL 16-joint layout (palm; thumb, index, middle,
ring, pinky, each root, mid, tip), with bone lengths taken from the ICVL test
poses (mean over 1,596 frames, mm). Joint angles obey static limits and the
intra-finger coupling of Lin, Wu & Huang (2000), "Modeling the constraints
of human hand motion": MCP flexion 0..90 deg, abduction -15..15 deg, PIP
flexion 0..110 deg, DIP = 2/3 PIP; thumb CMC/MCP/IP with their own limits.
Neighbouring fingers' flexions are correlated (a shared grasp level).

Rendering: capsules (finger segments, thumb, forearm) and an ellipsoid palm,
ray-cast in the crop under a per-primitive weak perspective (each primitive
scaled by its own depth) into a depth crop in mm; optional Gaussian sensor
noise and missing pixels. Any 16-joint pose can be rendered, e.g. the real
ICVL test poses. Local hand frame: origin at the palm joint, y along the
middle finger, z out of the palm.
"""
import math

import numpy as np

from ..camera import camera_for
from .preprocess import (CropGeometry, PreprocessParams, normalise_depth,
                         normalise_joints)

__all__ = ["HandModel", "render_crop", "knuckles_from_joints",
           "SyntheticHands", "synthetic_params", "NUM_JOINTS", "BONES"]

NUM_JOINTS = 16
FINGERS = ["thumb", "index", "middle", "ring", "pinky"]
# joint indices of each finger's root, mid, tip (ICVL order)
FINGER_JOINTS = {f: [1 + 3 * k, 2 + 3 * k, 3 + 3 * k] for k, f in enumerate(FINGERS)}
# bones for skeleton plots (ICVL layout)
BONES = [(0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9),
         (0, 10), (10, 11), (11, 12), (0, 13), (13, 14), (14, 15)]

# rest positions of the roots in the hand frame (mm), fitted to ICVL's mean
# palm-root distances (thumb 29.5, index 56.1, middle 52.3, ring 44.2,
# pinky 41.8) and root-root spacings (21.6, 18.7, 23.3)
ROOTS = {"thumb": (24.0, 12.0, 12.0), "index": (21.0, 52.0, 0.0),
         "middle": (0.0, 52.3, 0.0), "ring": (-18.0, 40.4, 0.0),
         "pinky": (-33.0, 25.7, 0.0)}
# root->mid, mid->tip lengths (mm), ICVL means
LENGTHS = {"thumb": (30.5, 25.4), "index": (28.1, 18.1),
           "middle": (32.2, 20.3), "ring": (28.6, 19.6), "pinky": (22.2, 18.1)}
RADII = {"thumb": (11.0, 9.5, 8.5), "index": (9.0, 8.0, 7.0),
         "middle": (9.5, 8.5, 7.5), "ring": (9.0, 8.0, 7.0),
         "pinky": (8.0, 7.0, 6.0)}
KNUCKLE_FRACTION = 0.55   # knuckle (flexion centre) between palm and root
DEG = np.pi / 180


def _norm(v):
    """|v| of a float64 3-vector, the value ``np.linalg.norm`` gives
    (sqrt of ``v.dot(v)``) without its overhead."""
    return math.sqrt(v.dot(v))


def _cross(a, b):
    """a x b of two 3-vectors: the products and differences of
    ``np.cross``, in plain floats (the same values, without its overhead)."""
    a0, a1, a2 = a.tolist()
    b0, b1, b2 = b.tolist()
    return np.array([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])


def _clip(v, lo, hi):
    """``np.clip`` of one number, as a float (the same value)."""
    return float(min(max(v, lo), hi))


def _rot(axis, angle):
    """Rotation matrix about unit ``axis`` by ``angle`` (rad). The
    arithmetic is done in plain floats: the same operations, in the same
    order, as on NumPy scalars, so the same matrix, about 3x faster (about
    20 rotations make a synthetic frame)."""
    axis = np.asarray(axis, dtype=np.float64)
    x, y, z = (axis / _norm(axis)).tolist()
    c, s = float(np.cos(angle)), float(np.sin(angle))
    C = 1 - c
    return np.array([[c + x * x * C, x * y * C - z * s, x * z * C + y * s],
                     [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
                     [z * x * C - y * s, z * y * C + x * s, c + z * z * C]])


def _euler(rx, ry, rz):
    return _rot((0, 0, 1), rz) @ _rot((0, 1, 0), ry) @ _rot((1, 0, 0), rx)


_Z = np.array([0.0, 0.0, 1.0])      # palm normal of the hand frame


def _finger_rest(f):
    """(knuckle, unit direction knuckle -> root, its length, flexion axis,
    second axis) of finger ``f`` at rest, in the hand frame (mm). The thumb's
    flexion axis points across the palm and its second axis is its
    abduction axis; the other fingers' flexion turns their direction towards
    +z (the palm side) and they abduct about z."""
    root = np.array(ROOTS[f])
    knuckle = KNUCKLE_FRACTION * root
    l0 = _norm(root - knuckle)
    d = (root - knuckle) / l0
    if f == "thumb":
        across = np.array([-0.7, 0.0, 0.7])
        return knuckle, d, l0, _cross(d, across), _cross(d, _Z)
    return knuckle, d, l0, _cross(_Z, d), _Z


_FINGER_REST = {f: _finger_rest(f) for f in FINGERS}


class HandModel(object):
    """Forward kinematics of the 16-joint hand (mm)."""

    # (min, max) in degrees
    LIMITS = {"mcp": (0.0, 90.0), "pip": (0.0, 110.0), "abd": (-15.0, 15.0),
              "cmc_flex": (-10.0, 50.0), "cmc_abd": (-10.0, 40.0),
              "thumb_mcp": (0.0, 60.0), "thumb_ip": (0.0, 80.0)}

    def sample_angles(self, rng):
        """Random joint angles (degrees) within the limits.

        A grasp level g in [0, 1] is shared by the fingers; each finger's
        curl is g plus noise, or (with probability 0.35) an independent
        extended/curled choice, so both gestures (pointing, V) and grasps
        appear.
        """
        g = rng.uniform(0, 1)
        angles = {}
        for f in FINGERS[1:]:
            if rng.uniform() < 0.35:
                curl = float(rng.uniform() < 0.5) * rng.uniform(0.6, 1.0)
            else:
                curl = _clip(g + rng.normal(0, 0.15), 0, 1)
            angles[f] = {
                "mcp": _clip(curl * 85 + rng.normal(0, 8), *self.LIMITS["mcp"]),
                "pip": _clip(curl * 100 + rng.normal(0, 8), *self.LIMITS["pip"]),
                "abd": _clip(rng.normal(0, 6) * (1 - curl), *self.LIMITS["abd"]),
            }
        angles["middle"]["abd"] *= 0.3
        t = _clip(g + rng.normal(0, 0.3), 0, 1)
        angles["thumb"] = {
            "cmc_flex": _clip(t * 45 + rng.normal(0, 8), *self.LIMITS["cmc_flex"]),
            "cmc_abd": _clip(rng.uniform(-5, 35), *self.LIMITS["cmc_abd"]),
            "thumb_mcp": _clip(t * 40 + rng.normal(0, 8), *self.LIMITS["thumb_mcp"]),
            "thumb_ip": _clip(t * 60 + rng.normal(0, 10), *self.LIMITS["thumb_ip"]),
        }
        return angles

    def forward(self, angles):
        """Angles -> (joints (16, 3), knuckles (5, 3)) in the hand frame."""
        joints = np.zeros((NUM_JOINTS, 3))
        knuckles = np.zeros((5, 3))
        for k, f in enumerate(FINGERS):
            knuckle, d, l0, axis, side = _FINGER_REST[f]
            l1, l2 = LENGTHS[f]
            a = angles[f]
            if f == "thumb":
                # CMC: flex towards the palm's centre line (about ``axis``),
                # abduct out of plane (about ``side``)
                R0 = _rot(side, -a["cmc_abd"] * DEG) @ \
                    _rot(axis, a["cmc_flex"] * DEG)
                f1, f2 = a["thumb_mcp"], a["thumb_ip"]
                axis = R0 @ axis
            else:
                abduct = _rot(_Z, a["abd"] * DEG)
                R0 = abduct @ _rot(axis, a["mcp"] * DEG)
                axis = abduct @ axis
                # DIP = 2/3 PIP (Lin et al. 2000); the ICVL 'mid' joint sits
                # at the PIP, the segment to the tip bends by the DIP angle
                f1, f2 = a["pip"], a["pip"] * 2.0 / 3.0
            d0 = R0 @ d
            root_p = knuckle + l0 * d0
            d1 = _rot(axis, f1 * DEG) @ d0
            mid_p = root_p + l1 * d1
            d2 = _rot(axis, f2 * DEG) @ d1
            tip_p = mid_p + l2 * d2
            j = FINGER_JOINTS[f]
            joints[j[0]], joints[j[1]], joints[j[2]] = root_p, mid_p, tip_p
            knuckles[k] = knuckle
        return joints, knuckles

    def sample(self, rng, camera, depth_range=(300.0, 500.0)):
        """A random hand in camera coordinates (release camera, y up):
        (joints (16, 3), knuckles (5, 3)) in mm."""
        joints, knuckles = self.forward(self.sample_angles(rng))
        # hand frame -> camera: palm towards the camera (local z -> -z),
        # then random in-plane rotation and out-of-plane tilts
        base = np.diag([-1.0, 1.0, -1.0])
        # rx < 0 tips the fingers towards the camera and the forearm away,
        # as in the benchmarks' views
        R = _euler(rng.uniform(-45, 15) * DEG, rng.uniform(-50, 50) * DEG,
                   np.clip(rng.normal(0, 35), -90, 90) * DEG) @ base
        t = np.array([rng.normal(0, 25), rng.normal(0, 25),
                      rng.uniform(*depth_range)])
        return joints @ R.T + t, knuckles @ R.T + t


def knuckles_from_joints(joints):
    """Knuckle points (5, 3) of a 16-joint pose without them (given poses):
    a fixed fraction of the way from the palm joint to each root."""
    palm = joints[0]
    return np.array([palm + KNUCKLE_FRACTION * (joints[FINGER_JOINTS[f][0]] - palm)
                     for f in FINGERS])


def _capsules(joints, knuckles):
    """[(p0, p1, r0, r1)] of a pose, in mm, camera coordinates."""
    caps = []
    for k, f in enumerate(FINGERS):
        r, m, t = (joints[i] for i in FINGER_JOINTS[f])
        ra, rb, rc = RADII[f]
        caps += [(knuckles[k], r, ra * 1.1, ra), (r, m, ra, rb), (m, t, rb, rc)]
    # thenar: palm joint to thumb knuckle
    caps.append((joints[0], knuckles[0], 16.0, 13.0))
    # forearm, leaving the crop below the palm
    palm = joints[0]
    up = joints[FINGER_JOINTS["middle"][0]] - palm
    up /= max(_norm(up), 1e-6)
    caps.append((palm - 35 * up, palm - 260 * up, 22.0, 27.0))
    return caps


def _palm_ellipsoid(joints, knuckles):
    """(centre, rotation (3, 3) rows = axes, radii (3,)) of the palm."""
    palm = joints[0]
    y = knuckles[2] - palm
    y /= max(_norm(y), 1e-6)
    x = knuckles[1] - knuckles[4]
    x -= x.dot(y) * y
    x /= max(_norm(x), 1e-6)
    z = _cross(x, y)
    centre = (palm + knuckles[1:].mean(axis=0)) / 2
    half_x = _norm(knuckles[1] - knuckles[4]) / 2 + 12
    half_y = _norm(knuckles[2] - palm) / 2 + 22
    return centre, np.stack([x, y, z]), np.array([half_x, half_y, 13.0])


def render_crop(joints, geom, knuckles=None):
    """Depth crop (size, size) in mm (0 = background) of a 16-joint pose.

    ``joints`` (16, 3) mm in camera coordinates; ``geom`` a
    :class:`~crossnet.data.preprocess.CropGeometry` fixing the crop.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (NUM_JOINTS, 3):
        raise ValueError("render_crop: expected (16, 3) joints (ICVL layout), "
                         "got %s" % (joints.shape,))
    if knuckles is None:
        knuckles = knuckles_from_joints(joints)
    S = geom.size
    zbuf = np.full((S, S), np.inf)
    cam = geom.camera
    f_px = abs(cam.fx) * geom.scale      # crop px per (mm / depth)
    _draw_capsules(zbuf, geom, f_px, _capsules(joints, knuckles))
    _draw_ellipsoid(zbuf, geom, f_px, *_palm_ellipsoid(joints, knuckles))
    zbuf[~np.isfinite(zbuf)] = 0
    return zbuf.astype(np.float32)


def _windows(S, lo, hi, radius_px):
    """Pixel windows of K shapes in an (S, S) crop: (row_lo, row_hi, col_lo,
    col_hi) int arrays (K,), clipped to the crop (empty when lo >= hi), around
    (K, 2) lowest and highest (col, row) points plus ``radius_px`` (K,)."""
    lo = np.maximum(np.floor(lo - radius_px[:, None]).astype(int), 0)
    hi = np.minimum(np.ceil(hi + radius_px[:, None]).astype(int) + 1, S)
    return lo[:, 1], hi[:, 1], lo[:, 0], hi[:, 0]


def _draw_capsules(zbuf, geom, f_px, capsules):
    """Draw cones with spherical ends [(p0, p1, r0, r1)] (mm) into ``zbuf``
    (S, S) mm, nearest surface wins. Each capsule is evaluated on the pixels
    of its own window (its projected ends plus the larger projected radius
    and a pixel), all capsules in one flat array."""
    p0 = np.array([c[0] for c in capsules], dtype=np.float64)
    p1 = np.array([c[1] for c in capsules], dtype=np.float64)
    r0 = np.array([c[2] for c in capsules], dtype=np.float64)
    r1 = np.array([c[3] for c in capsules], dtype=np.float64)
    front = (p0[:, 2] > 1) & (p1[:, 2] > 1)      # both ends before the camera
    p0, p1, r0, r1 = p0[front], p1[front], r0[front], r1[front]
    a, b = geom.xyz_to_crop(p0), geom.xyz_to_crop(p1)       # (K, 2) col, row
    s0, s1 = f_px / p0[:, 2], f_px / p1[:, 2]               # px per mm
    radius = np.maximum(r0 * s0, r1 * s1) + 1
    S = zbuf.shape[0]
    row_lo, row_hi, c_lo, c_hi = _windows(S, np.minimum(a, b),
                                          np.maximum(a, b), radius)
    width = np.maximum(c_hi - c_lo, 0)
    count = width * np.maximum(row_hi - row_lo, 0)
    if not count.sum():
        return
    # every window pixel of every capsule: k (capsule), row yy, column xx
    k = np.repeat(np.arange(len(count)), count)
    local = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    yy = row_lo[k] + local // width[k]
    xx = c_lo[k] + local % width[k]
    ab = b - a
    L2 = ab[:, 0] * ab[:, 0] + ab[:, 1] * ab[:, 1]
    a, ab, L2 = a[k], ab[k], L2[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(L2 < 1e-9, 0.0, np.clip(
            ((xx - a[:, 0]) * ab[:, 0] + (yy - a[:, 1]) * ab[:, 1]) / L2, 0, 1))
    dist_px = np.hypot(xx - a[:, 0] - t * ab[:, 0], yy - a[:, 1] - t * ab[:, 1])
    scale = s0[k] + t * (s1[k] - s0[k])
    dist_mm = dist_px / scale
    r = r0[k] + t * (r1[k] - r0[k])
    inside = dist_mm < r
    z = (p0[k, 2] + t * (p1[k, 2] - p0[k, 2])
         - np.sqrt(np.maximum(r * r - dist_mm ** 2, 0)))
    np.minimum.at(zbuf.reshape(-1), (yy * S + xx)[inside], z[inside])


def _draw_ellipsoid(zbuf, geom, f_px, centre, axes, radii):
    if centre[2] <= 1:
        return
    c = geom.xyz_to_crop(centre)
    s = f_px / centre[2]
    (ra,), (rb,), (ca,), (cb,) = _windows(zbuf.shape[0], c[None], c[None],
                                          np.array([radii.max() * s + 1]))
    if ca >= cb or ra >= rb:
        return
    yy, xx = np.mgrid[ra:rb, ca:cb]
    # pixel offsets -> mm in camera x, y (weak perspective; crop rows grow
    # downwards, camera y points up when fy < 0)
    dx = (xx - c[0]) / s * np.sign(geom.camera.fx)
    dy = (yy - c[1]) / s * np.sign(geom.camera.fy)
    M = axes.T @ np.diag(1.0 / radii ** 2) @ axes
    A = M[2, 2]
    B = M[0, 2] * dx + M[1, 2] * dy
    C = M[0, 0] * dx * dx + 2 * M[0, 1] * dx * dy + M[1, 1] * dy * dy - 1
    disc = B * B - A * C
    inside = disc > 0
    if not inside.any():
        return
    dz = (-B - np.sqrt(np.maximum(disc, 0))) / A
    sub = zbuf[ra:rb, ca:cb]
    np.minimum(sub, np.where(inside, centre[2] + dz, np.inf), out=sub)


def synthetic_params(size=128, cube_mm=250.0):
    """Preprocessing parameters of the synthetic data (ICVL camera)."""
    return PreprocessParams("synthetic", cube_mm, size, camera_for("synthetic"),
                            0, "joints")


class SyntheticHands(object):
    """Deterministic stream of preprocessed synthetic frames.

    Frame ``i`` depends only on ``(seed, i)``. ``poses`` (N, 16, 3) mm
    renders given poses (e.g. the ICVL test poses) instead of random ones.
    ``noise_mm`` Gaussian depth noise, ``missing`` fraction of dropped hand
    pixels, ``centre_jitter_mm`` simulates a hand detector's error (the crop
    centre is the joints' mean plus this noise).
    """

    def __init__(self, num_frames=1000, seed=0, size=128, poses=None,
                 noise_mm=1.0, missing=0.02, centre_jitter_mm=5.0,
                 cube_mm=250.0):
        self.params = synthetic_params(size, cube_mm)
        self.poses = None if poses is None else np.asarray(poses, np.float64)
        if self.poses is not None and self.poses.shape[1:] != (NUM_JOINTS, 3):
            raise ValueError("synthetic poses must be (N, 16, 3) mm, got %s"
                             % (self.poses.shape,))
        self.num_frames = len(self.poses) if self.poses is not None else int(num_frames)
        self.seed = int(seed)
        self.noise_mm = noise_mm
        self.missing = missing
        self.centre_jitter_mm = centre_jitter_mm
        self.model = HandModel()

    def __len__(self):
        return self.num_frames

    def signature(self):
        """What shapes the frames besides ``params`` (see data.sources)."""
        import hashlib
        poses = None if self.poses is None else hashlib.sha1(
            np.ascontiguousarray(self.poses).tobytes()).hexdigest()
        return {"kind": "synthetic", "seed": self.seed, "frames": len(self),
                "poses_sha1": poses, "noise_mm": self.noise_mm,
                "missing": self.missing,
                "centre_jitter_mm": self.centre_jitter_mm}

    def sample(self, i):
        """dict(depth, pose, origin, centre, xyz, name) of frame i."""
        rng = np.random.RandomState([self.seed, i])
        if self.poses is None:
            joints, knuckles = self.model.sample(rng, self.params.camera)
        else:
            joints, knuckles = self.poses[i], None
        centre = joints.mean(axis=0) + rng.normal(0, self.centre_jitter_mm, 3)
        geom = CropGeometry(centre, self.params.camera, self.params.cube_mm,
                            self.params.size)
        crop = render_crop(joints, geom, knuckles)
        hand = crop > 0
        if self.noise_mm:
            crop = np.where(hand, crop + rng.normal(0, self.noise_mm, crop.shape),
                            0).astype(np.float32)
        if self.missing:
            crop[hand & (rng.uniform(size=crop.shape) < self.missing)] = 0
        pose, origin = normalise_joints(joints, geom.centre, self.params.root_joint)
        return {"depth": normalise_depth(crop, geom.z_front, geom.z_back),
                "pose": pose, "origin": origin, "centre": geom.centre,
                "xyz": joints, "name": "synthetic_%d_%07d" % (self.seed, i)}

    def __iter__(self):
        for i in range(len(self)):
            yield self.sample(i)
