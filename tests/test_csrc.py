"""crossnet.csrc: shipped C sources and the shared-library builder."""
import os

import pytest

from crossnet import csrc


def test_missing_source_names_the_file():
    with pytest.raises(FileNotFoundError, match="no_such.c"):
        csrc.read_source("no_such.c")


def test_native_builds_are_kept_apart_per_cpu(monkeypatch):
    """A library built with -march=native on one CPU is not reused on
    another (the compile cache may outlive a change of machine); without
    -march=native the CPU plays no part."""
    def path(flags, cpu):
        monkeypatch.setattr(csrc, "native_target", lambda: cpu)
        return os.path.basename(csrc.build_shared_library("adam.c", flags)._name)
    native = ["-O0", "-march=native"]
    assert path(native, "cpu A") == path(native, "cpu A")
    assert path(native, "cpu A") != path(native, "cpu B")
    assert path(["-O0"], "cpu A") == path(["-O0"], "cpu B")


def test_native_target_describes_this_cpu():
    target = csrc.native_target.__wrapped__()
    assert target.strip() and target == csrc.native_target.__wrapped__()
