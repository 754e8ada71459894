"""Round trips through a trained CrossingNet, to check weights and wiring.

* VAE: joints -> encoder mean -> decoder -> joints;
* loop: joints -> encoder -> Ali -> generator -> depth -> posterior head ->
  decoder -> joints (the whole shared latent space, no real depth involved).
"""
import numpy as np

from ..camera import camera_for
from .pose_files import PoseFileError, read_pose_file

__all__ = ["load_benchmark_joints", "centre_joints", "roundtrip_errors"]


def load_benchmark_joints(path, net, frames=None):
    """Joints (N, J, 3) in mm (release camera, y up) from a public-format
    ground-truth file, checked against the network's joint count."""
    uvd = read_pose_file(path)
    cfg = net.config
    if uvd.shape[1] != cfg.num_joints:
        hint = ""
        if cfg.dataset == "nyu":
            hint = (" The authors' NYU networks use all 36 joints of NYU's "
                    "joint_data.mat; the public NYU test labels hold only the "
                    "14 evaluation joints, which cannot be encoded by a "
                    "36-joint VAE. Use 36-joint poses (from joint_data.mat).")
        raise PoseFileError("%s: %d joints per frame, the %s networks expect "
                            "%d.%s" % (path, uvd.shape[1], cfg.dataset,
                                       cfg.num_joints, hint))
    if frames is not None:
        uvd = uvd[:frames]
    return camera_for(cfg.dataset).uvd_to_xyz(uvd)


def centre_joints(xyz, root_joint, centre="root"):
    """Joints relative to a crop centre: the root joint (root offset 0) or
    the mean of the joints."""
    if centre == "root":
        c = xyz[:, root_joint]
    elif centre == "mean":
        c = xyz.mean(axis=1)
    else:
        raise ValueError("centre must be 'root' or 'mean', got %r" % centre)
    return (xyz - c[:, None]).astype("float32")


def _mean_error(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b, axis=-1).mean())


def roundtrip_errors(net, joints, batch_size=200):
    """Mean joint errors (mm) of the VAE and of the full loop, and the
    rendered depth maps. ``joints``: (N, J, 3) mm relative to the crop centre."""
    vae, loop, depths = [], [], []
    for start in range(0, len(joints), batch_size):
        j = joints[start:start + batch_size]
        z = net.encode_pose(j)
        vae.append(net.decode_latent(z))
        d = net.render(z)
        depths.append(d)
        loop.append(net.estimate(d))
    vae, loop = np.concatenate(vae), np.concatenate(loop)
    return {"vae_mean_error_mm": _mean_error(vae, joints),
            "loop_mean_error_mm": _mean_error(loop, joints),
            "frames": int(len(joints))}, np.concatenate(depths)
