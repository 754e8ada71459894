"""HDF5 cache of preprocessed frames: streaming, resumable writer and a reader.

Layout of ``FILE.h5`` (N frames, crop size S, J joints):

* ``depth`` (N, S, S) float32 in [-1, 1]; ``pose`` (N, J, 3) float32,
  root-relative joints / 50 mm; ``origin`` (N, 3) float32, root offset from
  the crop centre / 50 mm; ``centre`` (N, 3) float64 mm; ``xyz`` (N, J, 3)
  float64 mm (release camera); ``name`` (N,) file names;
* attributes: ``preprocessing`` (JSON of
  :class:`~crossnet.data.preprocess.PreprocessParams`), ``split``,
  ``format_version``, ``complete``, ``num_frames``, ``skipped``.

The writer streams into ``FILE.h5.partial`` block by block (bounded
memory), records after each block how far it got, and renames to
``FILE.h5`` only when every frame is in: a file named ``.h5`` is always
complete. Re-running continues a ``.partial`` file where it stopped.
"""
import json
import os
import warnings

import numpy as np

from ..fileio import exclusive_lock
from .common import DataError
from .preprocess import BadFrame, PreprocessParams

__all__ = ["write_cache", "CacheDataset", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def _create(h5, S, J):
    kw = dict(compression="gzip", compression_opts=4)
    h5.create_dataset("depth", (0, S, S), "float32", maxshape=(None, S, S),
                      chunks=(1, S, S), **kw)   # one frame: cheap random reads
    h5.create_dataset("pose", (0, J, 3), "float32", maxshape=(None, J, 3),
                      chunks=(1024, J, 3), **kw)
    h5.create_dataset("origin", (0, 3), "float32", maxshape=(None, 3),
                      chunks=(1024, 3))
    h5.create_dataset("centre", (0, 3), "float64", maxshape=(None, 3),
                      chunks=(1024, 3))
    h5.create_dataset("xyz", (0, J, 3), "float64", maxshape=(None, J, 3),
                      chunks=(1024, J, 3), **kw)
    import h5py
    h5.create_dataset("name", (0,), h5py.string_dtype(), maxshape=(None,),
                      chunks=(1024,))


KEYS = ("depth", "pose", "origin", "centre", "xyz", "name")


def _append(h5, block):
    n0 = h5["depth"].shape[0]
    n = len(block["depth"])
    for key in KEYS:
        ds = h5[key]
        ds.resize(n0 + n, axis=0)
        ds[n0:n0 + n] = block[key] if key == "name" else np.asarray(block[key])


def _source_json(source):
    return json.dumps(source.signature(), sort_keys=True)


def _check_params(path, h5, source, split):
    """The file was made from the same source, preprocessing and split."""
    params = source.params
    stored = h5.attrs.get("preprocessing")
    if stored != params.to_json() or h5.attrs.get("split") != split:
        raise DataError(
            "%s: written with other preprocessing parameters or split (%s, %s)"
            " than requested (%s, %s); delete it or pass --overwrite"
            % (path, stored, h5.attrs.get("split"), params.to_json(), split))
    if "source" in h5.attrs:      # files of crossnet <= 0.1 have none
        old, new = json.loads(h5.attrs["source"]), source.signature()
        new = json.loads(json.dumps(new))        # as stored (lists, floats)
        if old != new:
            diff = ", ".join("%s: %r in the file, %r now" % (k, old.get(k),
                                                             new.get(k))
                             for k in sorted(set(old) | set(new))
                             if old.get(k) != new.get(k))
            raise DataError("%s: made from other data (%s); pass --overwrite "
                            "to start again, or choose another --out"
                            % (path, diff))


def write_cache(out_path, source, split, on_bad="skip", block=256,
                overwrite=False, progress=True, workers=1):
    """Preprocess every frame of ``source`` into ``out_path``; resumable.

    ``workers`` > 1 preprocesses each block's frames in that many forked
    processes (Linux; the file is the same, written by this process in
    frame order); the source must be safe to use after a fork (no open
    HDF5 file, for one).

    ``on_bad``: 'skip' counts bad frames (NaN / empty depth, NaN or
    implausible labels) and warns once at the end; 'fail' raises DataError
    naming the frame and keeps the partial file, which the next run resumes
    (``overwrite=True`` discards it). Returns a dict with ``frames``, ``skipped``, ``path``,
    ``resumed`` and ``already_complete``. An exclusive lock on
    ``out_path.lock`` makes a second writer of the same file fail at once
    (:class:`crossnet.fileio.LockedError`).
    """
    if on_bad not in ("skip", "fail"):
        raise ValueError("on_bad must be 'skip' or 'fail'")
    with exclusive_lock(os.path.abspath(out_path), "the cache file %s" % out_path):
        return _write_cache_locked(out_path, source, split, on_bad, block,
                                   overwrite, progress, workers)


def _write_cache_locked(out_path, source, split, on_bad, block, overwrite,
                        progress, workers=1):
    import h5py
    partial = out_path + ".partial"
    if os.path.exists(out_path) and not overwrite:
        with h5py.File(out_path, "r") as h5:
            _check_params(out_path, h5, source, split)
            return {"frames": int(h5.attrs["num_frames"]),
                    "skipped": int(h5.attrs["skipped"]), "path": out_path,
                    "resumed": False, "already_complete": True}
    if overwrite:
        for p in (out_path, partial):
            if os.path.exists(p):
                os.remove(p)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    h5, resumed = _open_partial(partial, source, split)
    try:
        with _Samples(source, workers) as samples:
            n, skipped = _fill_blocks(h5, samples, len(source), block, on_bad,
                                      progress, "prepare %s"
                                      % os.path.basename(out_path), partial)
        if n == 0:
            _close_quietly(h5)
            os.remove(partial)
            raise DataError("%s: no usable frame (all %d skipped)"
                            % (out_path, skipped))
        h5.attrs["num_frames"] = n
        h5.attrs["complete"] = True
        h5.close()
    except BaseException:
        # keep the partial file (frames up to the last full block): after
        # the cause is fixed, re-running resumes it; --overwrite discards it
        _close_quietly(h5)
        raise
    os.replace(partial, out_path)
    if skipped:
        warnings.warn("%s: skipped %d frame(s) with NaN or empty depth"
                      % (out_path, skipped))
    return {"frames": n, "skipped": skipped, "path": out_path,
            "resumed": resumed, "already_complete": False}


def _close_quietly(h5):
    """Close ``h5``, ignoring errors: a failed write can leave HDF5 unable
    to flush on close, and the caller is already raising the real error."""
    try:
        h5.close()
    except Exception:
        pass


def _open_partial(partial, source, split):
    """(open h5 of ``partial``, resumed?): continue a partial file made
    with the same parameters from its last full block, or start a new one."""
    import h5py
    params = source.params
    if os.path.exists(partial):
        h5 = None
        try:
            h5 = h5py.File(partial, "a")
            if "preprocessing" not in h5.attrs:
                raise KeyError("no attributes")
            _check_params(partial, h5, source, split)
            if int(h5.attrs.get("source_frames", -1)) != len(source):
                raise DataError("%s: made from %d source frames, the data "
                                "now has %d; delete it or pass --overwrite"
                                % (partial, h5.attrs.get("source_frames"),
                                   len(source)))
            written = int(h5.attrs["written"])
            for key in KEYS:       # drop anything past the last full block
                h5[key].resize(written, axis=0)
            return h5, True
        except DataError:
            h5.close()
            raise
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            # HDF5 damaged by a kill or a failed write: nothing to resume
            warnings.warn("%s: unreadable partial cache (%s); starting again"
                          % (partial, exc))
            if h5 is not None:
                _close_quietly(h5)
            os.remove(partial)
    h5 = h5py.File(partial, "w")
    first = _first_good(source)
    _create(h5, first["depth"].shape[0], first["pose"].shape[0])
    h5.attrs.update({"preprocessing": params.to_json(), "split": split,
                     "source": _source_json(source),
                     "format_version": FORMAT_VERSION, "complete": False,
                     "source_frames": len(source), "written": 0,
                     "next_source_index": 0, "skipped": 0})
    return h5, False


def _sample_or_bad_frame(source, j):
    """``source.sample(j)``, or the BadFrame it raised (other errors raise)."""
    try:
        return source.sample(j)
    except BadFrame as exc:
        return exc


_FORKED_SOURCE = None     # the source of a _Samples pool's worker processes


def _forked_sample(j):
    return _sample_or_bad_frame(_FORKED_SOURCE, j)


class _Samples(object):
    """Context manager: ``frames(i, stop)`` iterates over the samples (or
    BadFrame errors) of source frames ``i .. stop - 1``, in order, made here
    or in ``workers`` forked processes. The workers keep preprocessing while
    the caller writes what they made (a stream, not one batch at a time)."""

    def __init__(self, source, workers=1):
        self.source = source
        self.workers = max(1, int(workers or 1))
        self.pool = None

    def __enter__(self):
        global _FORKED_SOURCE
        if self.workers > 1 and len(self.source) > 1:
            import multiprocessing
            try:
                context = multiprocessing.get_context("fork")
            except ValueError:           # no fork (Windows): one process
                return self
            _FORKED_SOURCE = self.source      # inherited by the fork
            self.pool = context.Pool(self.workers)
        return self

    def frames(self, i, stop):
        if self.pool is None:
            return (_sample_or_bad_frame(self.source, j) for j in range(i, stop))
        return self.pool.imap(_forked_sample, range(i, stop), chunksize=8)

    def __exit__(self, *exc):
        global _FORKED_SOURCE
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            _FORKED_SOURCE = self.pool = None


def _fill_blocks(h5, samples, total, block, on_bad, progress, desc, path):
    """Preprocess the ``total`` source frames from the file's
    ``next_source_index`` on, ``block`` at a time (``samples``: a
    :class:`_Samples`), recording progress after each block; returns
    (frames in the file, frames skipped). A frame that fails (on_bad='fail',
    or a reader error) and a failed write (disk full) raise DataError naming
    the frame or the file; the blocks written before are kept."""
    from tqdm import tqdm
    i = int(h5.attrs["next_source_index"])
    skipped = int(h5.attrs["skipped"])
    bar = tqdm(total=total, initial=i,
               disable=None if progress else True,   # None: off when not a tty
               desc=desc, unit="frame")
    frames = samples.frames(i, total)
    while i < total:
        stop = min(i + block, total)
        buf = {k: [] for k in KEYS}
        for j, s in zip(range(i, stop), frames):
            if isinstance(s, BadFrame):
                exc = s
                if on_bad == "fail":
                    raise DataError("%s (source frame %d; the %d frames before "
                                    "its block are kept in %s: fix or remove "
                                    "it and re-run, or pass --on-bad skip)"
                                    % (exc, j, h5["depth"].shape[0], path))
                skipped += 1
                continue
            for k in KEYS:
                buf[k].append(s[k])
        try:
            if buf["depth"]:
                _append(h5, buf)
            h5.attrs["written"] = h5["depth"].shape[0]
            h5.attrs["next_source_index"] = stop
            h5.attrs["skipped"] = skipped
            h5.flush()
        except OSError as exc:
            raise DataError("%s: writing source frames %d-%d failed (%s); "
                            "re-run after freeing space to resume from the "
                            "last full block, or pass --overwrite"
                            % (path, i, stop - 1, exc))
        bar.update(stop - i)
        i = stop
    bar.close()
    return h5["depth"].shape[0], skipped


def _first_good(source):
    for i in range(len(source)):
        try:
            return source.sample(i)
        except BadFrame:
            continue
    raise DataError("no usable frame in the source (all depth maps empty or NaN)")


# the arrays of the last cache file read whole (CacheDataset.read_whole):
# file identity (path, device, inode, size, mtime) and {key: read-only array}
_WHOLE = {"file": None, "arrays": {}}


class CacheDataset(object):
    """Read access to a complete cache file without loading it whole.

    ``expected`` (PreprocessParams) is compared with the stored parameters;
    a mismatch raises DataError naming the file and the differing fields.
    """

    def __init__(self, path, expected=None):
        import h5py
        if not os.path.isfile(path):
            if os.path.isfile(path + ".partial"):
                raise DataError("%s: not finished (%s.partial exists); re-run "
                                "`crossnet prepare` to complete it" % (path, path))
            raise DataError("%s: cache file not found" % path)
        try:
            self.h5 = h5py.File(path, "r")
        except OSError as exc:
            raise DataError("%s: not a readable HDF5 file (%s)" % (path, exc))
        self.path = path
        attrs = self.h5.attrs
        if not attrs.get("complete", False) or "preprocessing" not in attrs:
            self.h5.close()
            raise DataError("%s: incomplete or not a crossnet cache" % path)
        if int(attrs.get("format_version", 0)) != FORMAT_VERSION:
            self.h5.close()
            raise DataError("%s: cache format %s, this crossnet reads %d"
                            % (path, attrs.get("format_version"), FORMAT_VERSION))
        self.params = PreprocessParams.from_json(attrs["preprocessing"])
        self.split = attrs["split"]
        if expected is not None and expected != self.params:
            diff = [k for k in PreprocessParams._fields
                    if getattr(expected, k) != getattr(self.params, k)]
            self.h5.close()
            raise DataError("%s: written with other preprocessing parameters; "
                            "differs in %s (file %s, expected %s)"
                            % (path, ", ".join(diff),
                               [getattr(self.params, k) for k in diff],
                               [getattr(expected, k) for k in diff]))

    def __len__(self):
        return int(self.h5["depth"].shape[0])

    @property
    def image_size(self):
        return int(self.h5["depth"].shape[1])

    @property
    def num_joints(self):
        return int(self.h5["pose"].shape[1])

    def read(self, indices, keys=("depth", "pose", "origin")):
        """Arrays of the frames at ``indices`` (any order). Keys this
        process holds whole (:meth:`read_whole`) are indexed in memory."""
        indices = np.asarray(indices)
        order = np.argsort(indices)
        sorted_idx = indices[order]
        if len(np.unique(sorted_idx)) != len(sorted_idx):
            raise ValueError("duplicate indices")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        held = _WHOLE["arrays"] if _WHOLE["file"] == self._identity() else {}
        return {k: held[k][indices] if k in held
                else self.h5[k][sorted_idx][inverse] for k in keys}

    def _identity(self):
        st = os.stat(self.path)
        return (os.path.realpath(self.path), st.st_dev, st.st_ino,
                st.st_size, st.st_mtime_ns)

    def read_whole(self, key):
        """Array ``key`` of every frame, read-only. The last file read whole
        stays in memory for this process, so runs that train one after the
        other on the same cache (the demo, the paper experiments)
        decompress it once; a rewritten file is read again."""
        ident = self._identity()
        if _WHOLE["file"] != ident:
            _WHOLE["file"], _WHOLE["arrays"] = ident, {}
        arrays = _WHOLE["arrays"]
        if key not in arrays:
            array = self.h5[key][:]
            array.flags.writeable = False
            arrays[key] = array
        return arrays[key]

    def close(self):
        self.h5.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def describe(self):
        return {"path": self.path, "frames": len(self), "split": self.split,
                "skipped": int(self.h5.attrs.get("skipped", 0)),
                "preprocessing": json.loads(self.h5.attrs["preprocessing"])}
