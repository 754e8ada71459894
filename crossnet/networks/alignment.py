"""Ali (Fig. 2, centre): pose latent z_y (23) -> depth latent z_x (23).

Dense 23 -> 23 without bias or nonlinearity, W ~ N(0, 0.02), then batch
norm. The paper's tanh sits at the start of the generator in the release.
Checkpoint file: ``align`` (W, BN beta, gamma, mean, inv_std).
"""
from .. import nn
from .config import LATENT_DIM

__all__ = ["build_alignment"]


def build_alignment(input_var=None, input_layer=None):
    """Ali layers; returns (input layer, output layer)."""
    l_in = input_layer or nn.InputLayer((None, LATENT_DIM), input_var,
                                        name="pose_latent")
    dense = nn.DenseLayer(l_in, LATENT_DIM, W=nn.init.Normal(0.02), b=None,
                          nonlinearity=None, name="ali_fc")
    return l_in, nn.BatchNormLayer(dense, name="ali_bn")
