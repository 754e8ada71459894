"""Each stage's losses fall, and each stage changes only its own parameters."""
import numpy as np
import pytest

from crossnet import nn
from crossnet.data.synthetic import SyntheticHands
from crossnet.networks import CrossingNet
from crossnet.training import stages

SIZE = 32
B = 8


@pytest.fixture(scope="module")
def frames():
    hands = SyntheticHands(2 * B, seed=4, size=SIZE)
    s = [hands.sample(i) for i in range(2 * B)]
    return {k: np.stack([f[k] for f in s]) for k in ("depth", "pose", "origin")}


def _batch(frames, sl=slice(0, B)):
    return {k: v[sl] for k, v in frames.items()}


def _all_params(net):
    tops = [net.encoder.mu, net.encoder.logvar, net.decoder.output,
            net.alignment, net.generator.output, net.discriminator.output,
            net.posterior_head, net.metric_head]
    return nn.get_all_params(tops)


def _changed(net, fn):
    before = {p: p.get_value().copy() for p in _all_params(net)}
    fn()
    return {p for p in before if not np.array_equal(before[p], p.get_value())}


def _names(params):
    return {p.name for p in params}


def _run(stage, batch, n, seed=0):
    rng = np.random.RandomState(seed)
    inputs = stage.make_inputs(batch, rng)
    return [stage.step(inputs) for _ in range(n)]


def test_vae_stage(frames):
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.vae_stage(net, lr=3e-3)
    changed = _changed(net, lambda: _run(st, _batch(frames), 1))
    assert _names(changed) == _names(st.params)
    assert all(n.startswith(("enc_", "dec_")) for n in _names(changed))
    hist = _run(st, _batch(frames), 60)
    assert hist[-1]["vae_loss"] < 0.7 * hist[0]["vae_loss"]


def test_gan_stage(frames):
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.gan_stage(net, lr=1e-3, fused=False)
    batch = _batch(frames)
    changed = _changed(net, lambda: _run(st, batch, 1))
    names = _names(changed)
    assert names and all(n.startswith(("gen_", "dis_")) for n in names)
    assert any(n.startswith("gen_") for n in names)
    assert any(n.startswith("dis_") for n in names)
    hist = _run(st, batch, 15)
    assert hist[-1]["gan_d"] < hist[0]["gan_d"]
    # the G step alone lowers its feature-matching loss
    g_step = st.steps[1][1]
    inputs = st.make_inputs(batch, np.random.RandomState(1))
    fm = [float(g_step(*inputs)[0]) for _ in range(15)]
    assert fm[-1] < fm[0]


def test_gan_stage_with_the_papers_log_d_generator_loss(frames):
    """generator_loss='logd': the G step lowers -log D(G(z)) with D fixed."""
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.gan_stage(net, lr=1e-3, generator_loss="logd", fused=False)
    inputs = st.make_inputs(_batch(frames), np.random.RandomState(1))
    g_step = st.steps[1][1]
    changed = _changed(net, lambda: g_step(*inputs))
    assert changed and all(p.name.startswith("gen_") for p in changed)
    logd = [float(g_step(*inputs)[0]) for _ in range(15)]
    assert logd[-1] < logd[0]


@pytest.mark.parametrize("loss", ["logd", "feature_matching"])
def test_fused_gan_step_equals_the_d_step_then_the_g_step(frames, loss):
    """One function for both steps gives the bits of the two run one after
    the other: losses, weights, batch-norm averages, Adam's state."""
    batch = _batch(frames)
    nets, built = [], []
    for fused in (False, True):
        net = CrossingNet("synthetic", SIZE, seed=0)
        nets.append(net)
        built.append(stages.gan_stage(net, lr=1e-3, generator_loss=loss,
                                      fused=fused))
    assert [len(st.steps) for st in built] == [2, 1]
    for update in range(3):
        losses = [st.step(st.make_inputs(batch, np.random.RandomState(update)))
                  for st in built]
        assert losses[0] == losses[1]
    values = [[p.get_value() for p in nn.get_all_params(
        [net.generator.output, net.discriminator.output])] + st.state_values()
        for net, st in zip(nets, built)]
    for a, b in zip(*values):
        np.testing.assert_array_equal(a, b)


def test_align_stage_freezes_vae_generator_and_discriminator(frames):
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.align_stage(net, lr=1e-2)
    batch = _batch(frames)
    changed = _names(_changed(net, lambda: _run(st, batch, 1)))
    assert any(n.startswith("ali_") for n in changed)
    assert any(n.startswith("pos_") for n in changed)
    assert any(n.startswith("metr_") for n in changed)
    assert all(n.startswith(("ali_", "pos_", "metr_")) for n in changed), changed
    hist = _run(st, batch, 25)
    for term in ("recons", "pos", "smo"):
        assert hist[-1][term] < hist[0][term], term


def test_align_stage_with_generator_lr_trains_the_generator_at_that_rate(frames):
    """generator_lr: the generator joins Ali on L_recons; Adam's first step
    moves each weight by about its learning rate, which follows the stage's
    shared lr (a schedule's decay) by the same factor."""
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.align_stage(net, lr=1e-2, generator_lr=1e-4)
    batch = _batch(frames)
    gen = [p for p in st.params if p.name.startswith("gen_")]
    assert gen and {p.name for p in gen} == _names(
        net.part_params("generator", trainable=True))
    before = {p: p.get_value().copy() for p in gen}
    changed = _names(_changed(net, lambda: _run(st, batch, 1)))
    assert any(n.startswith("gen_") for n in changed)
    assert all(n.startswith(("ali_", "gen_", "pos_", "metr_")) for n in changed)
    step = max(np.abs(p.get_value() - before[p]).max() for p in gen)
    assert 0.5e-4 < step < 1.5e-4, step
    st.lr.set_value(np.float32(1e-3))          # the schedule decays to 0.1
    before = {p: p.get_value().copy() for p in gen}
    _run(st, batch, 1)
    step = max(np.abs(p.get_value() - before[p]).max() for p in gen)
    assert step < 3e-5, step      # Adam moves at most ~1.4 lr at step 2
    hist = _run(st, batch, 25)
    assert hist[-1]["recons"] < hist[0]["recons"]


def test_cross_stage_trains_gan_and_heads_not_vae(frames):
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.cross_stage(net, lr=1e-3)
    batch = {"labelled": _batch(frames), "real": _batch(frames, slice(B, 2 * B))}
    changed = _names(_changed(net, lambda: _run(st, batch, 1)))
    assert not any(n.startswith(("enc_", "dec_")) for n in changed)
    for prefix in ("ali_", "gen_", "dis_conv1", "dis_out", "pos_", "metr_"):
        assert any(n.startswith(prefix) for n in changed), prefix
    hist = _run(st, batch, 20)
    for term in ("pos", "recons", "smo_g"):
        assert hist[-1][term] < hist[0][term], term


def test_supervised_stage_is_the_posterior_path_only(frames):
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.supervised_stage(net, lr=1e-3)
    changed = _names(_changed(net, lambda: _run(st, _batch(frames), 1)))
    assert all(n.startswith(("dis_conv1", "dis_conv2", "pos_")) for n in changed)
    hist = _run(st, _batch(frames), 20)
    assert hist[-1]["pos"] < hist[0]["pos"]


def test_cross_stage_without_adversarial_terms_leaves_the_gan_output(frames):
    """The ablation's '+ smoothness' arm: no real frames, no L_GAN_D / L_FM;
    D's conv3-5 and output layer are not in the loss, so they stay."""
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.cross_stage(net, lr=1e-3, adversarial=False)
    assert st.batch_source == "labelled"
    changed = _names(_changed(net, lambda: _run(st, _batch(frames), 1)))
    for prefix in ("ali_", "gen_", "dis_conv1", "pos_", "metr_"):
        assert any(n.startswith(prefix) for n in changed), prefix
    assert not any(n.startswith(("dis_conv3", "dis_out", "enc_", "dec_"))
                   for n in changed)
    losses = _run(st, _batch(frames), 1)[0]
    assert set(losses) == {"pos", "smo_d", "recons", "smo_g"}


def test_cross_stage_without_feature_matching_trains_g_on_poses_only(frames):
    """feature_matching_weight=0: the D step keeps L_GAN_D; the G step is
    L_recons + L_smo and does not read the real frames."""
    net = CrossingNet("synthetic", SIZE, seed=0)
    st = stages.cross_stage(net, lr=1e-3, feature_matching_weight=0)
    assert st.batch_source == "both"
    (_, _, d_names), (_, g_fn, g_names) = st.steps
    assert d_names == ["gan_d", "pos", "smo_d"] and g_names == ["recons", "smo_g"]
    inputs = st.make_inputs({"labelled": _batch(frames),
                             "real": _batch(frames, slice(B, 2 * B))},
                            np.random.RandomState(0))
    params = _all_params(net)
    start = [p.get_value().copy() for p in params]
    adam = st.state_values()
    after = []
    for real in (inputs[3], np.full_like(inputs[3], np.nan)):
        for p, v in zip(params, start):
            p.set_value(v)
        st.set_state_values(adam)
        g_fn(*(inputs[:3] + [real]))
        after.append([p.get_value().copy() for p in params])
    for a, b in zip(after[0], after[1]):
        np.testing.assert_array_equal(a, b)
    moved = {p.name for p, a, v in zip(params, after[0], start)
             if not np.array_equal(a, v)}
    assert any(n.startswith("gen_") for n in moved)


def test_recons_is_logged_under_the_name_of_its_form(frames):
    """The release's clipped L_recons is logged as 'recons', the plain
    squared error as 'recons_sq' (the demo's 3a and 3b differ so), and the
    logged value is that form's."""
    assert stages.recons_name() == "recons"
    assert stages.recons_name(None) == "recons_sq"
    batch = _batch(frames)
    both = {"labelled": batch, "real": _batch(frames, slice(B, 2 * B))}
    values = {}
    for clip in (stages.RECONS_CLIP, None):
        net = CrossingNet("synthetic", SIZE, seed=0)
        st = stages.align_stage(net, recons_clip=clip)
        st.lr.set_value(np.float32(0))     # both read the same parameters
        values[clip] = _run(st, batch, 1)[0]
        assert list(values[clip]) == [stages.recons_name(clip), "pos", "smo"]
        net = CrossingNet("synthetic", SIZE, seed=0)
        st = stages.cross_stage(net, recons_clip=clip)
        assert stages.recons_name(clip) in _run(st, both, 1)[0]
    # the clip only lowers pixels' errors: the clipped mean is the smaller
    assert values[1.0]["recons"] <= values[None]["recons_sq"]
    np.testing.assert_allclose(values[1.0]["pos"], values[None]["pos"],
                               rtol=1e-5)


def test_labelled_latent_is_sampled_around_the_vae_mean(frames):
    net = CrossingNet("synthetic", SIZE, seed=0)
    batch = _batch(frames)
    mean = stages.latent_of_batch(net, batch, latent="mean")
    pose = batch["pose"].reshape(B, -1)
    mu, sigma = net.pose_posterior(pose)
    np.testing.assert_allclose(mean[:, :20], mu, rtol=1e-6)
    np.testing.assert_allclose(mean[:, 20:], batch["origin"], rtol=1e-6)
    draws = np.stack([stages.latent_of_batch(
        net, batch, np.random.RandomState(i)) for i in range(400)])
    np.testing.assert_array_equal(draws[:, :, 20:],
                                  np.broadcast_to(mean[:, 20:], draws[:, :, 20:].shape))
    # mu + sigma * N(0, 0.05^2): mean mu, standard deviation 0.05 sigma
    np.testing.assert_allclose(draws[:, :, :20].mean(0), mu,
                               atol=float(4 * 0.05 * sigma.max() / 20))
    np.testing.assert_allclose(draws[:, :, :20].std(0) / sigma, 0.05,
                               rtol=0.2)
    with pytest.raises(ValueError, match="latent must be"):
        stages.latent_of_batch(net, batch, latent="mode")


def test_mixing_matrix_rows_are_convex_combinations_of_five():
    M = stages.mixing_matrix(12, np.random.RandomState(0))
    np.testing.assert_allclose(M.sum(axis=1), 1, rtol=1e-6)
    assert ((M > 0).sum(axis=1) == 5).all() and (M >= 0).all()


@pytest.mark.parametrize("name", ["gan", "align", "cross", "supervised"])
def test_first_update_is_the_same_with_aesaras_own_ops(frames, name):
    """crossnet's convolution and batch-norm Ops change no loss of a stage's
    first two updates (aesara's CorrMM and elementwise graph as reference;
    parameters are not compared: Adam's first step is lr * sign(g), which
    float rounding flips for gradients near zero)."""
    from crossnet import ops
    build = getattr(stages, name + "_stage")
    batch = (_batch(frames) if name != "cross" else
             {"labelled": _batch(frames), "real": _batch(frames, slice(B, 2 * B))})
    results = []
    for use_ops in (True, False):
        with ops.training_ops(use_ops):
            net = CrossingNet("synthetic", SIZE, seed=0)
            st = build(net)
        kinds = {type(n.op).__name__ for _, fn, _ in st.steps
                 for n in fn.maker.fgraph.apply_nodes}
        assert ("Corr6x6S2" in kinds) == use_ops
        results.append(_run(st, batch, 2))
    ours, theirs = results
    # the second update starts from parameters one Adam step apart
    for step_ours, step_theirs, rtol in zip(ours, theirs, (1e-4, 1e-2)):
        assert step_ours.keys() == step_theirs.keys()
        for k in step_ours:
            np.testing.assert_allclose(step_ours[k], step_theirs[k], rtol=rtol,
                                       atol=1e-6, err_msg=k)


@pytest.mark.parametrize("clip", [1.0, None])
def test_reconstruction_loss_clips_each_pixels_squared_error(clip):
    from crossnet.backend import aesara, at
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (3, 1, 5, 5)).astype(np.float32)
    x_hat = rng.uniform(-1, 1, (3, 1, 5, 5)).astype(np.float32)
    a, b = at.tensor4(dtype="float32"), at.tensor4(dtype="float32")
    loss = stages.reconstruction_loss(a, b, clip)
    value, grad = aesara.function([a, b], [loss, aesara.grad(loss, b)])(x, x_hat)
    err = (x - x_hat) ** 2
    assert (err > 1).any() and (err < 1).any()
    kept = err if clip is None else np.minimum(err, clip)
    np.testing.assert_allclose(value, kept.mean(), rtol=1e-6)
    # a clipped pixel gets no gradient, the others 2 (x_hat - x) / n
    want = 2 * (x_hat - x) / x.size
    if clip is not None:
        want[err > clip] = 0
    np.testing.assert_allclose(grad, want, rtol=1e-5, atol=1e-8)
