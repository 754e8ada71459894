"""The peak is the FMA loop's own measurement; the loop computes what it
says. Nothing here depends on how fast this machine is."""
import numpy as np

from crossnet.cpu_peak import fma_loop, measure_peak


def test_fma_loop_computes_the_recurrence():
    n, b, c = 1000, 0.999, 1e-4
    seconds, lanes1 = fma_loop(n, b, c)
    assert seconds > 0
    for k, got in enumerate(lanes1):
        bf, cf = float(np.float32(b)), float(np.float32(c))
        a = float(np.float32((k + 1) * 1e-3))
        for _ in range(n):      # exact recurrence in float64; float32
            a = a * bf + cf     # rounding over n steps stays below 1e-4
        assert abs(got - a) <= 1e-4 * abs(a), (k, got, a)


def test_peak_is_the_sum_of_each_threads_fma_loop():
    r = measure_peak(threads=2, seconds=0.02, repeats=2)
    assert r["lanes"] in (4, 8, 16) and r["threads"] == 2
    assert len(r["per_thread_gflops"]) == 2
    assert all(g > 0 for g in r["per_thread_gflops"])
    assert r["gflops"] == sum(r["per_thread_gflops"])
    assert "measured" in r["how"] and "GHz" not in r["how"]
