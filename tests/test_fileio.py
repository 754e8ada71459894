"""Atomic writes respect the umask; locks exclude a second writer."""
import os

import pytest

from crossnet.fileio import (LockedError, atomic_write_text, default_file_mode,
                             exclusive_lock)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600),
                                         (0o002, 0o664)])
def test_atomic_write_gives_the_umask_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert default_file_mode() == mode
        path = atomic_write_text(str(tmp_path / "a.json"), "{}")
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == mode
    assert os.listdir(tmp_path) == ["a.json"]


def test_second_lock_fails_at_once_and_is_free_after(tmp_path):
    target = str(tmp_path / "out.h5")
    with exclusive_lock(target, "the cache file out.h5"):
        with pytest.raises(LockedError, match="out.h5 is being written by "
                                              "another process"):
            with exclusive_lock(target, "the cache file out.h5"):
                pass
    with exclusive_lock(target, "again"):      # released
        pass
