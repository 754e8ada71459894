"""What the dataset readers share: the Frame record, errors, PNG reading."""
import os
from collections import namedtuple

import numpy as np

__all__ = ["Frame", "DataError", "read_png", "require_dir", "require_file",
           "missing_files_note"]


class DataError(ValueError):
    """Missing or malformed dataset files; the message names the file."""


class Frame(namedtuple("Frame", "depth uvd xyz name centre")):
    """One frame of a dataset.

    ``depth`` (H, W) float32 mm, 0 = no measurement; ``uvd`` (J, 3) pixels
    and mm, as in the dataset's labels; ``xyz`` (J, 3) mm, release camera
    (y up); ``name`` the depth file relative to the dataset root;
    ``centre`` (3,) xyz mm of a provided hand centre, or None.
    """


def missing_files_note(missing, folder, show=5):
    """'; missing: folder/a.png, folder/b.png (+N more)' for error messages
    (empty when nothing is missing)."""
    if not missing:
        return ""
    more = " (+%d more)" % (len(missing) - show) if len(missing) > show else ""
    return "; missing: %s%s" % (", ".join(os.path.join(folder, m)
                                          for m in missing[:show]), more)


def require_dir(path, what):
    if not os.path.isdir(path):
        raise DataError("%s: %s not found" % (path, what))
    return path


def require_file(path, what):
    if not os.path.isfile(path):
        raise DataError("%s: %s not found" % (path, what))
    return path


def read_png(path, mode, size=None):
    """Read a PNG as an array, checking its mode and (width, height) (any
    size when ``size`` is None).

    ``mode`` 'depth16' accepts 16-bit greyscale (ICVL); 'rgb' accepts 8-bit
    RGB (NYU).
    """
    from PIL import Image, UnidentifiedImageError
    if not os.path.isfile(path):
        raise DataError("%s: depth image not found" % path)
    try:
        with Image.open(path) as img:
            img.load()
            if size is not None and img.size != tuple(size):
                raise DataError("%s: image is %dx%d, expected %dx%d"
                                % (path, img.size[0], img.size[1], size[0],
                                   size[1]))
            if mode == "depth16":
                if img.mode not in ("I;16", "I;16B", "I"):
                    raise DataError("%s: PNG mode %s, expected 16-bit "
                                    "greyscale depth in mm" % (path, img.mode))
                return np.asarray(img, dtype=np.float32)
            if img.mode != "RGB":
                raise DataError("%s: PNG mode %s, expected 8-bit RGB (NYU "
                                "depth in G and B)" % (path, img.mode))
            return np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError("%s: not a readable PNG (%s)" % (path, exc))
