"""Images and figures written to disk (PNG through a temp file + rename)."""
import os
import tempfile

import numpy as np

__all__ = ["depth_to_image", "depth_grid", "save_png", "atomic_savefig"]


def depth_to_image(depth):
    """(H, W) normalised depth in [-1, 1] -> uint8 grey, near = bright,
    background (+1) = black."""
    d = np.clip(np.asarray(depth, dtype=np.float64), -1, 1)
    return np.round((1 - d) * 127.5).astype(np.uint8)


def depth_grid(depths, ncols=8, pad=2):
    """(N, H, W) depth crops -> one uint8 image, ``ncols`` per row."""
    depths = np.asarray(depths)
    n, h, w = depths.shape
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), 64,
                   np.uint8)
    for i, d in enumerate(depths):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        grid[y:y + h, x:x + w] = depth_to_image(d)
    return grid


def _atomic(path, write):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_png(path, image):
    """Write a uint8 (H, W) or (H, W, 3) array as PNG."""
    from PIL import Image
    return _atomic(path, lambda tmp: Image.fromarray(image).save(tmp, "PNG"))


def atomic_savefig(fig, path, **kwargs):
    """``fig.savefig`` through a temp file + rename."""
    return _atomic(path, lambda tmp: fig.savefig(tmp, format="png", **kwargs))
