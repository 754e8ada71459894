"""The Crossing Nets networks (Fig. 2 of the paper), one module each."""
from .alignment import build_alignment  # noqa: F401
from .config import CONFIGS, LATENT_DIM, UNIT_MM, config_for  # noqa: F401
from .crossing_net import PART_FILES, CrossingNet  # noqa: F401
from .depth_gan import build_discriminator, build_generator  # noqa: F401
from .metric_head import build_metric_head  # noqa: F401
from .posterior_head import build_posterior_head  # noqa: F401
from .pose_vae import build_pose_decoder, build_pose_encoder  # noqa: F401
