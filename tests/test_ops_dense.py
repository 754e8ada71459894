"""The BLAS-free dense + leaky ReLU Op against numpy."""
import numpy as np
import pytest

from crossnet.backend import aesara, at
from crossnet.ops import DenseLeaky, dense_leaky


def compiled(leak, linker="cvm_nogc"):
    x, w = at.matrix(dtype="float32"), at.matrix(dtype="float32")
    b = at.vector(dtype="float32")
    mode = aesara.compile.mode.Mode(linker=linker, optimizer="fast_run")
    return aesara.function([x, w, b], dense_leaky(x, w, b, leak), mode=mode)


@pytest.mark.parametrize("leak", [1.0, 0.2, 0.01])
@pytest.mark.parametrize("batch", [1, 5])
def test_dense_matches_numpy(rng, leak, batch):
    x = rng.randn(batch, 512).astype("f4")
    W = rng.randn(512, 23).astype("f4")
    b = rng.randn(23).astype("f4")
    y = x.astype("f8") @ W + b
    ref = np.where(y > 0, y, leak * y)
    for linker in ("cvm_nogc", "py"):
        np.testing.assert_allclose(compiled(leak, linker)(x, W, b), ref,
                                   rtol=1e-4, atol=1e-3)


def test_dense_refuses_mismatched_shapes(rng):
    fn = compiled(1.0)
    with pytest.raises(ValueError, match="DenseLeaky"):
        fn(rng.randn(2, 5).astype("f4"), rng.randn(4, 3).astype("f4"),
           np.zeros(3, "f4"))
    with pytest.raises(ValueError, match="2-d"):
        DenseLeaky()(at.vector(dtype="float32"), at.matrix(dtype="float32"),
                     at.vector(dtype="float32"))
