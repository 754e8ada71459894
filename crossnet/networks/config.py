"""Per-dataset network configuration (SPEC sections 1, 2, 5)."""
from collections import namedtuple

from ..conventions import DATASETS, IMAGE_SIZE, NUM_JOINTS, ROOT_JOINT, UNIT_MM

__all__ = ["NetworkConfig", "CONFIGS", "config_for", "POSE_CODE_DIM",
           "TRANSLATION_DIM", "LATENT_DIM", "UNIT_MM"]

POSE_CODE_DIM = 20       # z_y from the pose VAE
TRANSLATION_DIM = 3      # root joint offset from the crop centre
LATENT_DIM = POSE_CODE_DIM + TRANSLATION_DIM   # 23


class NetworkConfig(namedtuple("NetworkConfig",
                               "dataset num_joints root_joint image_size")):
    """``num_joints`` of the pose VAE, index of the root joint, crop size (px)."""

    @property
    def pose_dim(self):
        return 3 * self.num_joints


# built-in synthetic hands use the ICVL 16-joint layout
CONFIGS = {d: NetworkConfig(d, NUM_JOINTS[d], ROOT_JOINT[d], IMAGE_SIZE)
           for d in DATASETS}


def config_for(dataset, image_size=None):
    """The configuration of ``dataset``; ``image_size`` (a power of two
    >= 32) overrides the 128-pixel crop for quick runs."""
    if dataset not in CONFIGS:
        raise ValueError("unknown dataset %r; choose one of %s"
                         % (dataset, ", ".join(sorted(CONFIGS))))
    cfg = CONFIGS[dataset]
    if image_size is not None:
        if image_size < 32 or image_size & (image_size - 1):
            raise ValueError("image_size must be a power of two >= 32, got %r"
                             % image_size)
        cfg = cfg._replace(image_size=int(image_size))
    return cfg
