import numpy as np

from crossnet import backend
from crossnet.backend import aesara, at


def test_flags():
    assert aesara.config.floatX == "float32"
    info = backend.describe()
    assert info["floatX"] == "float32"
    assert info["compiledir"]


def test_corrmm_patch_probe_says_repaired():
    from aesara.tensor.nnet import corr
    x, w = at.tensor4(dtype="float32"), at.tensor4(dtype="float32")
    assert not backend._op_is_broken(corr.CorrMM(), x, w)
    # applying it again is a no-op
    assert backend.patch_corrmm() == []


def test_conv2d_compiles_to_c_corrmm_forward_and_backward(rng):
    from aesara.tensor.nnet import conv2d
    x, w = at.tensor4("x", dtype="float32"), at.tensor4("w", dtype="float32")
    y = conv2d(x, w, subsample=(2, 2), border_mode=(2, 2))
    gx, gw = aesara.grad((y ** 2).sum(), [x, w])
    f = aesara.function([x, w], [y, gx, gw])
    names = {type(n.op).__name__ for n in f.maker.fgraph.toposort()}
    assert {"CorrMM", "CorrMM_gradInputs", "CorrMM_gradWeights"} <= names
    out = f(rng.rand(2, 3, 16, 16).astype("f4"), rng.rand(4, 3, 6, 6).astype("f4"))
    assert out[0].shape == (2, 4, 8, 8)
    assert out[1].shape == (2, 3, 16, 16) and out[2].shape == (4, 3, 6, 6)
    assert all(np.isfinite(o).all() for o in out)


def _blas_threads():
    from threadpoolctl import threadpool_info
    return {i["filepath"]: i["num_threads"] for i in threadpool_info()
            if i["user_api"] == "blas"}


def test_blas_runs_on_one_thread_and_blas_threads_restores_it():
    if backend.BLAS_THREADS is None:
        import pytest
        pytest.skip("CROSSNET_BLAS_THREADS=system: BLAS left alone")
    before = _blas_threads()
    assert before and set(before.values()) == {backend.BLAS_THREADS}
    with backend.blas_threads(2):
        assert set(_blas_threads().values()) == {2}
    assert _blas_threads() == before


def test_blas_thread_count_reads_the_environment(monkeypatch):
    import pytest
    monkeypatch.setenv(backend.BLAS_THREADS_ENV, "system")
    assert backend._blas_thread_count() is None
    monkeypatch.setenv(backend.BLAS_THREADS_ENV, "2")
    assert backend._blas_thread_count() == 2
    for bad in ("0", "many"):
        monkeypatch.setenv(backend.BLAS_THREADS_ENV, bad)
        with pytest.raises(ValueError, match="CROSSNET_BLAS_THREADS"):
            backend._blas_thread_count()
