"""Safe file writes and exclusive locks.

* Atomic writes: a temporary file in the target folder, then a rename, so a
  crash or an error never leaves a half-written file under the real name.
  The file gets the mode a plain ``open(path, 'w')`` would (0666 less the
  umask), not ``mkstemp``'s private 0600.
* :func:`exclusive_lock`: an advisory ``flock`` on ``PATH.lock``, so that a
  second process writing the same output fails at once with a clear
  message instead of interleaving with the first.
"""
import contextlib
import errno
import json
import os
import tempfile

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json",
           "exclusive_lock", "LockedError", "default_file_mode"]


class LockedError(RuntimeError):
    """Another process holds the lock of an output."""


def default_file_mode():
    """0666 less this process's umask (what ``open(..., 'w')`` gives)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path, write, binary=True):
    """Call ``write(fh)`` on a temp file beside ``path``, then rename it to
    ``path``; on any exception the temp file is removed. Returns ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1],
                               dir=directory)
    try:
        os.fchmod(fd, default_file_mode())
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


@contextlib.contextmanager
def exclusive_lock(path, what):
    """Hold an exclusive, non-blocking ``flock`` on ``path + '.lock'`` (for
    ``what``, e.g. "the cache file X") while the block runs; raises
    :class:`LockedError` at once when another process holds it. The lock
    dies with the process (kill -9 included); the empty lock file stays."""
    import fcntl
    lock_path = path + ".lock"
    os.makedirs(os.path.dirname(os.path.abspath(lock_path)), exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, default_file_mode())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
                raise LockedError("%s is being written by another process "
                                  "(lock %s held); wait for it to finish or "
                                  "choose another output" % (what, lock_path))
            raise
        yield lock_path
    finally:
        os.close(fd)
