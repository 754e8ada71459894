"""crossnet.benchmark: thread limits."""
from threadpoolctl import threadpool_info

from crossnet.benchmark import thread_limit


def _counts(api):
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == api]


def test_thread_limit_sets_openmp_and_never_raises_blas():
    """OpenMP gets the count asked for; BLAS stays at crossnet's one thread
    (raising it made timed stage updates up to twice as slow)."""
    before = _counts("blas")
    with thread_limit(3):
        assert set(_counts("openmp")) == {3}
        assert _counts("blas") == [min(3, n) for n in before]
    with thread_limit(1):
        assert set(_counts("openmp")) == {1}
        assert set(_counts("blas")) <= {1}
    assert _counts("blas") == before
