"""crossnet: Crossing Nets (Wan et al., CVPR 2017) on aesara."""
from . import backend  # noqa: F401  (sets aesara flags, repairs CPU conv)

__version__ = "0.1.0"
