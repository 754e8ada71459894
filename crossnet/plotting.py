"""Images and figures written to disk (PNG through a temp file + rename)."""
import numpy as np

from .fileio import atomic_write

__all__ = ["depth_to_image", "depth_grid", "save_png", "atomic_savefig",
           "pyplot", "plot_crops_with_skeleton"]


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


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (files only)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_png(path, image):
    """Write a uint8 (H, W) or (H, W, 3) array as PNG."""
    from PIL import Image
    return atomic_write(path, lambda fh: Image.fromarray(image).save(fh, "PNG"))


def atomic_savefig(fig, path, **kwargs):
    """``fig.savefig`` through a temp file + rename."""
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png", **kwargs))


def plot_crops_with_skeleton(depths, joints_px, bones, path, ncols=8,
                             title=None):
    """Grid of depth crops with 2-d skeletons (``joints_px`` (N, J, 2) in crop
    (col, row) pixels) drawn over them; writes a PNG."""
    plt = pyplot()
    n = len(depths)
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.6 * nrows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        ax = axes.ravel()[i]
        ax.imshow(depth_to_image(depths[i]), cmap="gray", vmin=0, vmax=255)
        pts = joints_px[i]
        for a, b in bones:
            ax.plot([pts[a, 0], pts[b, 0]], [pts[a, 1], pts[b, 1]], "-",
                    color="tab:orange", lw=1)
        ax.plot(pts[:, 0], pts[:, 1], ".", color="tab:red", ms=2.5)
        S = depths[i].shape[0]
        ax.set_xlim(-0.5, S - 0.5)
        ax.set_ylim(S - 0.5, -0.5)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.2)
    atomic_savefig(fig, path, dpi=100)
    plt.close(fig)
    return path
