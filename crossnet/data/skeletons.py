"""Bone lists (pairs of joint indices) per dataset layout, for plots."""

__all__ = ["bones_for"]


def _chains(chains, extra=()):
    bones = [(c[k], c[k + 1]) for c in chains for k in range(len(c) - 1)]
    return bones + list(extra)


# ICVL (16): palm, then thumb, index, middle, ring, pinky (root, mid, tip)
ICVL = _chains([[0, 1 + 3 * f, 2 + 3 * f, 3 + 3 * f] for f in range(5)])
# MSRA (21): wrist, then index, middle, ring, pinky, thumb (MCP, PIP, DIP, TIP)
MSRA = _chains([[0, 1 + 4 * f, 2 + 4 * f, 3 + 4 * f, 4 + 4 * f] for f in range(5)])
# NYU (14 evaluation joints): pinky/ring/middle/index tip-root, thumb
# tip-root2-root1, wrist2, wrist1, palm
NYU14 = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (9, 10), (1, 13), (3, 13),
         (5, 13), (7, 13), (10, 13), (11, 13), (12, 13)]
# NYU (36): per finger six points from tip (pinky 0-5, ring 6-11, middle
# 12-17, index 18-23, thumb 24-29), then palm and wrist points 30-35
NYU36 = _chains([list(range(6 * f, 6 * f + 6)) for f in range(5)],
                [(5, 32), (11, 32), (17, 32), (23, 32), (29, 32), (30, 32),
                 (31, 32), (33, 32), (34, 32), (35, 32)])

_BY_COUNT = {16: ICVL, 21: MSRA, 14: NYU14, 36: NYU36}


def bones_for(num_joints):
    """Bones of the layout with ``num_joints`` joints ([] if unknown)."""
    return _BY_COUNT.get(num_joints, [])
