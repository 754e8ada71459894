"""Per-dataset network configuration (SPEC sections 1, 2, 5)."""
from collections import namedtuple

__all__ = ["NetworkConfig", "CONFIGS", "config_for", "POSE_CODE_DIM",
           "TRANSLATION_DIM", "LATENT_DIM", "UNIT_MM"]

POSE_CODE_DIM = 20       # z_y from the pose VAE
TRANSLATION_DIM = 3      # root joint offset from the crop centre
LATENT_DIM = POSE_CODE_DIM + TRANSLATION_DIM   # 23
UNIT_MM = 50.0           # joints are stored in units of 50 mm


class NetworkConfig(namedtuple("NetworkConfig",
                               "dataset num_joints root_joint image_size")):
    """``num_joints`` of the pose VAE, index of the root joint, crop size (px)."""

    @property
    def pose_dim(self):
        return 3 * self.num_joints


CONFIGS = {
    "nyu": NetworkConfig("nyu", 36, 32, 128),
    "icvl": NetworkConfig("icvl", 16, 0, 128),
    "msra": NetworkConfig("msra", 21, 0, 128),
    # built-in synthetic hands use the ICVL 16-joint layout
    "synthetic": NetworkConfig("synthetic", 16, 0, 128),
}


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
