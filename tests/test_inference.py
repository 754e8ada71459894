"""The folded fast path equals the training graph's test-mode output."""
import json
import os

import numpy as np
import pytest

from crossnet import cli
from crossnet.inference import FoldedPosterior, posterior_path_macs
from crossnet.nn.fold import fold_bn
from crossnet.networks import CrossingNet


def _randomise_bn(net, rng):
    for part in ("discriminator", "posterior_head"):
        for p in net.part_params(part):
            if p.name.endswith(("mean", "beta")):
                p.set_value(rng.normal(0, 0.3, p.get_value().shape).astype("f4"))
            if p.name.endswith(("inv_std", "gamma")):
                p.set_value(rng.uniform(0.5, 1.5, p.get_value().shape).astype("f4"))


@pytest.fixture(scope="module")
def net():
    net = CrossingNet("icvl", seed=0)
    _randomise_bn(net, np.random.RandomState(1))
    return net


@pytest.mark.parametrize("conv", ["direct", "corrmm"])
def test_folded_matches_unfolded_graph_and_numpy(net, conv):
    fast = FoldedPosterior(net, conv=conv)
    x = np.random.RandomState(2).uniform(-1, 1, (3, 128, 128)).astype("f4")
    reference = net.estimate(x)                       # BN as separate layers
    np.testing.assert_allclose(fast(x), reference, rtol=1e-4, atol=1e-4 * 50)
    np.testing.assert_allclose(fast.numpy_forward(x), reference, rtol=1e-4,
                               atol=1e-4 * 50)
    one = fast(x[:1])                                  # batch 1, the paper's
    np.testing.assert_allclose(one, reference[:1], rtol=1e-4, atol=1e-4 * 50)


def test_folded_with_authors_weights(reference_dir):
    from crossnet.checkpoint import load_checkpoint
    net = CrossingNet("icvl")
    load_checkpoint(net, os.path.join(reference_dir, "crossingnet_pretrained", "ICVL"))
    fast = FoldedPosterior(net)
    x = np.random.RandomState(3).uniform(-1, 1, (2, 128, 128)).astype("f4")
    x[:, :, :40] = 1.0
    np.testing.assert_allclose(fast(x), net.estimate(x), rtol=1e-4, atol=5e-3)


def test_fold_bn_formula():
    class BN(object):
        pass
    bn = BN()
    import aesara
    for name, v in (("gamma", [2.0, 1.0]), ("inv_std", [0.5, 4.0]),
                    ("beta", [1.0, 0.0]), ("mean", [3.0, -1.0])):
        setattr(bn, name, aesara.shared(np.array(v, "f4")))
    W = np.ones((3, 2), "f4")
    Wf, b = fold_bn(W, np.array([0.5, 0.0], "f4"), bn, axis=1)
    np.testing.assert_allclose(Wf, [[1, 4]] * 3)
    np.testing.assert_allclose(b, [0.5 * 1 + 1 - 3 * 1, 0 + 1 * 4])


def test_macs_from_the_layer_graph(net):
    # 5 convs 6x6, 32 channels: 64^2*32*1*36 + (32^2 + 16^2 + 8^2 + 4^2)*32*32*36
    convs = 64 ** 2 * 32 * 36 + (32 ** 2 + 16 ** 2 + 8 ** 2 + 4 ** 2) * 32 * 32 * 36
    dense = 512 * 23 + 23 * 23 + 20 * 40 + 40 * 48
    assert posterior_path_macs(net) == convs + dense


def test_benchmark_command_json(capsys):
    assert cli.main(["benchmark", "--iterations", "3", "--warmup", "1",
                     "--threads", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["batch_size"] == 1 and r["threads"] == 1 and r["conv"] == "direct"
    # the numbers are consistent with each other and with the network
    med_s = r["ms_per_frame_median"] / 1e3
    assert r["ms_per_frame_p10"] <= r["ms_per_frame_median"] <= r["ms_per_frame_p90"]
    assert abs(r["fps"] * med_s - 1) < 1e-9
    assert r["macs_per_frame"] == posterior_path_macs(CrossingNet("icvl"))
    assert abs(r["gflops"] - 2 * r["macs_per_frame"] / med_s / 1e9) < 1e-6 * r["gflops"]
    assert abs(r["percent_of_peak"] - 100 * r["gflops"] / r["peak_gflops"]) < 1e-9
    assert "measured" in r["peak_how"] and r["compile_s"] >= 0


def test_thread_limit_reaches_the_convolutions_openmp(net):
    """``--threads 1`` must limit the OpenMP runtime even when the compiled
    Op (which loads it) is imported inside the limit."""
    from threadpoolctl import threadpool_info
    from crossnet.benchmark import thread_limit
    with thread_limit(1):
        FoldedPosterior(net)
        omp = [i for i in threadpool_info() if i["user_api"] == "openmp"]
        assert omp and all(i["num_threads"] == 1 for i in omp)
