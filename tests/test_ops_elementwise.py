"""crossnet.ops.elementwise: the vectorised OpenMP tanh."""
import numpy as np
import pytest

from crossnet import nn, ops
from crossnet.backend import aesara, at
from crossnet.ops.elementwise import Tanh, tanh


def _ulps(got, ref):
    """|got - ref| in float32 ulps of ref (ref in float64)."""
    spacing = np.spacing(np.abs(ref).astype("float32")).astype("float64")
    return np.abs(got.astype("float64") - ref) / np.maximum(spacing, 1e-45)


@pytest.fixture(scope="module")
def fast_tanh():
    x = at.tensor4("x")
    return aesara.function([x], tanh(x))


@pytest.mark.parametrize("scale", [1e-3, 0.3, 0.625, 1.0, 4.0, 30.0])
def test_tanh_is_within_two_ulps_of_double(fast_tanh, scale):
    # 50 x 1 x 9 x 13: not a multiple of 16 elements, so the tail runs too
    x = (scale * np.random.RandomState(1).randn(50, 1, 9, 13)).astype("float32")
    ref = np.tanh(x.astype("float64"))
    assert _ulps(fast_tanh(x), ref).max() <= 2.0


def test_tanh_special_values(fast_tanh):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 1e-30, -1e-30, 0.625,
                  -0.625, 9.0, -9.0, 88.0, 1e30], "float32").reshape(1, 1, 1, -1)
    got = fast_tanh(x).ravel()
    assert np.isnan(got[0])
    np.testing.assert_array_equal(got[1:3], [1.0, -1.0])
    ref = np.tanh(x.ravel()[3:].astype("float64"))
    assert _ulps(got[3:], ref).max() <= 2.0


def test_tanh_gradient_and_shapes():
    rng = np.random.RandomState(2)
    aesara.gradient.verify_grad(Tanh(), [rng.randn(3, 5).astype("float32")],
                                rng=rng, abs_tol=1e-3, rel_tol=1e-3)
    x = at.matrix("x")
    assert aesara.function([x], tanh(x))(np.zeros((0, 3), "float32")).shape == (0, 3)
    with pytest.raises(TypeError, match="float32"):
        Tanh()(at.dmatrix())


@pytest.mark.parametrize("isa", ["avx2", "sse"])
def test_tanh_without_avx512_is_within_two_ulps(tmp_path, isa):
    """The C code built for AVX2 (8-float vectors) and SSE (4-float), as
    on CPUs without AVX-512: the same accuracy and special values, and a
    tail shorter than a vector."""
    import ctypes
    from portable_build import build_for_isa
    lib = build_for_isa("tanh.c", r"""
extern "C" void tanh_n(const float* x, long n, float* y) { cnh_tanh(x, n, y); }
""", isa, tmp_path)
    lib.tanh_n.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p]
    rng = np.random.RandomState(4)
    x = np.concatenate([s * rng.randn(1001) for s in (1e-3, 0.3, 1.0, 4.0, 30.0)]
                       + [[0.625, -0.625, 9.0, -9.0, 88.0, 1e30, 0.0, -1e-30]])
    x = x.astype("float32")
    for n in (len(x), 7):        # 7: the zero-padded tail alone
        y = np.full(n, np.nan, "float32")
        lib.tanh_n(x.ctypes.data, n, y.ctypes.data)
        assert _ulps(y, np.tanh(x[:n].astype("float64"))).max() <= 2.0
    special = np.array([np.nan, np.inf, -np.inf], "float32")
    y = np.zeros(3, "float32")
    lib.tanh_n(special.ctypes.data, 3, y.ctypes.data)
    assert np.isnan(y[0]) and list(y[1:]) == [1.0, -1.0]


def test_one_thread_equals_two(fast_tanh):
    from crossnet.benchmark import thread_limit
    x = np.random.RandomState(3).randn(64, 1, 128, 128).astype("float32")
    with thread_limit(1):
        one = fast_tanh(x)
    with thread_limit(2):
        two = fast_tanh(x)
    np.testing.assert_array_equal(one, two)


def test_nonlinearity_uses_the_op_only_with_the_training_ops():
    x = at.tensor4("x")

    def ops_of(expr):
        return {type(n.op).__name__ for n in aesara.graph.basic.io_toposort(
            [x], [expr])}
    with ops.training_ops(True):
        assert "Tanh" in ops_of(nn.nonlinearities.tanh(x))
    with ops.training_ops(False):
        assert "Tanh" not in ops_of(nn.nonlinearities.tanh(x))
    with ops.training_ops(True):       # small latents keep aesara's tanh
        assert "Tanh" not in ops_of(nn.nonlinearities.tanh(at.vector()))
