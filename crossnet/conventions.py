"""Conventions every part of crossnet shares: datasets, joints, units.

The bottom of the package: imports nothing from crossnet, so both ``data/``
and ``networks/`` can use it. Camera intrinsics live in :mod:`crossnet.camera`
(also import-free), the training schedules in :mod:`crossnet.training.schedules`.
"""

__all__ = ["DATASETS", "BENCHMARK_DATASETS", "NUM_JOINTS", "ROOT_JOINT",
           "BENCHMARK_NUM_JOINTS", "NYU_EVAL_JOINTS", "UNIT_MM", "CUBE_MM",
           "IMAGE_SIZE", "CENTRE_METHODS", "TEST_SEED_OFFSET"]

# datasets crossnet knows; "synthetic" = the built-in hands (ICVL layout)
DATASETS = ("icvl", "nyu", "msra", "synthetic")
# datasets with public benchmark files (evaluate)
BENCHMARK_DATASETS = ("icvl", "nyu", "msra")

# joints per frame as the readers and networks use them (SPEC sections 1, 5)
NUM_JOINTS = {"icvl": 16, "nyu": 36, "msra": 21, "synthetic": 16}
# index of the root joint (the latent's 3-d offset is this joint's)
ROOT_JOINT = {"icvl": 0, "nyu": 32, "msra": 0, "synthetic": 0}
# joints per frame in the public benchmark files (NYU: 14 of the 36)
BENCHMARK_NUM_JOINTS = {"icvl": 16, "nyu": 14, "msra": 21}
# NYU's 14 evaluation joints among the 36 of joint_data.mat (SPEC section 6)
NYU_EVAL_JOINTS = [0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32]

UNIT_MM = 50.0       # normalised joints are in units of 50 mm
CUBE_MM = 250.0      # side of the crop cube around the hand centre (mm)
IMAGE_SIZE = 128     # crop size of the paper (pixels)

# how the hand centre is found: centre of mass of the nearest blob, a
# provided centre file (NYU), or the mean of the labelled joints
CENTRE_METHODS = ("com", "file", "joints")

# the built-in synthetic test split is drawn with seed + this offset, so it
# never shares a hand with the training split of the same seed
TEST_SEED_OFFSET = 100003
