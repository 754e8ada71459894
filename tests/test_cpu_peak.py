"""The measured peak FLOP/s is self-consistent."""
import platform

from crossnet.cpu_peak import measure_peak


def test_peak_formula_agrees_with_its_own_fma_loop():
    r = measure_peak(threads=1, seconds=0.1, repeats=2)
    assert r["lanes"] in (4, 8, 16) and r["threads"] == 1
    assert r["fma_loop_gflops"] > 0
    if platform.machine() in ("x86_64", "AMD64", "i686"):
        assert 0.3 < r["ghz"] < 8.0
        assert r["fma_per_cycle"] in (1, 2, 3, 4)
        # the loop is the peak's own measurement: it may miss it (another
        # process, a slower clock), but cannot beat it by much
        assert r["fma_loop_gflops"] < 1.3 * r["gflops"]
    assert "GHz" in r["how"] or "FMA loop" in r["how"]
