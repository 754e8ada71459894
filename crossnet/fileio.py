"""Atomic file writes: a temporary file in the target folder, then a rename,
so a crash or an error never leaves a half-written file under the real name."""
import json
import os
import tempfile

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json"]


def atomic_write(path, write, binary=True):
    """Call ``write(fh)`` on a temp file beside ``path``, then rename it to
    ``path``; on any exception the temp file is removed. Returns ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1],
                               dir=directory)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text):
    return atomic_write(path, lambda fh: fh.write(text), binary=False)


def atomic_write_json(path, obj):
    return atomic_write(path, lambda fh: json.dump(obj, fh, indent=1),
                        binary=False)
