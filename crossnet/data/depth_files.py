"""Single depth frames from a user's own camera, in the formats the
benchmarks use: 16-bit PNG in mm (ICVL), NYU's RGB-encoded PNG
((G << 8) + B mm), MSRA's ``.bin`` and numpy ``.npy`` (H, W) in mm.

:func:`read_depth_file` picks the reader from the file (extension, PNG
mode) and returns (H, W) float32 depth in mm, 0 = no measurement.
"""
import os

import numpy as np

from .common import DataError, require_file

__all__ = ["read_depth_file", "DEPTH_FORMATS"]

DEPTH_FORMATS = ("png16", "nyu-rgb", "msra-bin", "npy")


def _png_format(path):
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            mode = img.mode
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError("%s: not a readable PNG (%s)" % (path, exc))
    if mode in ("I;16", "I;16B", "I"):
        return "png16"
    if mode == "RGB":
        return "nyu-rgb"
    raise DataError("%s: PNG mode %s; expected 16-bit greyscale depth in mm "
                    "or NYU's RGB encoding" % (path, mode))


def detect_format(path):
    """One of :data:`DEPTH_FORMATS`, from the extension and PNG mode."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".png":
        return _png_format(path)
    if ext == ".bin":
        return "msra-bin"
    if ext == ".npy":
        return "npy"
    raise DataError("%s: unknown depth format %r (use .png, .bin or .npy)"
                    % (path, ext))


def read_depth_file(path):
    """(H, W) float32 depth in mm of one frame; DataError naming the file."""
    from .common import read_png
    require_file(path, "depth image")
    kind = detect_format(path)
    if kind == "png16":
        return read_png(path, "depth16")
    if kind == "nyu-rgb":
        from .nyu import nyu_rgb_to_depth
        return nyu_rgb_to_depth(read_png(path, "rgb"))
    if kind == "msra-bin":
        from .msra import read_bin
        return read_bin(path)
    try:
        depth = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise DataError("%s: not a readable .npy file (%s)" % (path, exc))
    if depth.ndim != 2 or depth.dtype.kind not in "uif":
        raise DataError("%s: expected a 2-d numeric array of depth in mm, got "
                        "%s %s" % (path, depth.dtype, depth.shape))
    return depth.astype(np.float32)
