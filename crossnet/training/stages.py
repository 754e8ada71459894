"""The training stages of Crossing Nets (SPEC sections 3 and 4).

Each stage is built by one function that holds its whole loss, so a reader
finds the loss of any stage in one place:

* :func:`vae_stage` (1): pose VAE on labelled poses;
* :func:`gan_stage` (2): depth GAN on unlabelled depth, D step then G step;
* :func:`align_stage` (3a): Ali on L_recons, posterior and metric heads on
  L_pos + L_smo; generator (unless ``generator_lr``) and discriminator
  conv1-2 frozen;
* :func:`cross_stage` (3b): D step (L_GAN_D + L_pos + L_smo), then G step
  (L_FM + L_recons + L_smo); the VAE frozen;
* :func:`supervised_stage`: the baseline, D conv1-2 + posterior head on
  L_pos with labelled frames only (no GAN, no generator).

A :class:`Stage` holds compiled aesara functions (compiled once), the
parameters each updates, Adam's state and the learning rate as a shared
variable (schedules call ``set_value``; nothing is recompiled). All
randomness (VAE noise, GAN latents, mixing weights of random latents) is
drawn in numpy from a generator the caller passes, so a run is reproducible
and resumable from (seed, stage, epoch, batch).

Batch norm: batch statistics in training. Running averages are updated for
the layers a stage trains and left alone for frozen ones.
"""
import functools
import operator
from collections import OrderedDict

import numpy as np

from .. import nn
from ..function_cache import function as compile_function
from ..backend import aesara, at
from ..networks.config import LATENT_DIM, POSE_CODE_DIM
from ..networks.pose_vae import kl_divergence

__all__ = ["Stage", "vae_stage", "gan_stage", "align_stage", "cross_stage",
           "supervised_stage", "mixing_matrix", "reconstruction_loss",
           "recons_name", "POSTERIOR_STAGES", "RECONS_CLIP",
           "FEATURE_MATCHING_WEIGHT"]

# the stages that train the posterior head on L_pos (and take ``latent``)
POSTERIOR_STAGES = ("align", "cross", "supervised")

VAE_NOISE_STD = 0.05
EPS = 1e-7
# L_recons clips each pixel's squared error here (the release; None: not)
RECONS_CLIP = 1.0
# weight of L_FM in 3b's generator step (the release; 0: left out)
FEATURE_MATCHING_WEIGHT = 1.0


class Stage(object):
    """Compiled steps of one training stage.

    ``steps`` is a list of (name, function, output names); one update runs
    every step in order on the same inputs and returns a dict of loss terms.
    ``make_inputs(batch, rng)`` turns a data batch into the functions'
    inputs. ``batch_source`` says which frames a batch holds: 'labelled'
    (depth and labels of labelled frames), 'poses' (labels of labelled
    frames, no depth), 'all' (depth of every frame, no labels) or 'both' (a
    labelled batch plus a depth-only batch of all frames, under the keys
    'labelled' and 'real').
    """

    def __init__(self, name, steps, params, lr, state, make_inputs,
                 batch_source="labelled"):
        self.name = name
        self.steps = steps
        self.params = params          # parameters this stage updates
        self.lr = lr                  # shared learning rate
        self.state = state            # Adam state (shared variables)
        self.make_inputs = make_inputs
        self.batch_source = batch_source

    def step(self, inputs):
        losses = OrderedDict()
        for _, fn, names in self.steps:
            for k, v in zip(names, fn(*inputs)):
                losses[k] = float(v)
        return losses

    def state_values(self):
        return [s.get_value() for s in self.state]

    def set_state_values(self, values):
        if len(values) != len(self.state):
            raise ValueError("stage %s: %d optimizer arrays saved, %d expected"
                             % (self.name, len(values), len(self.state)))
        for s, v in zip(self.state, values):
            if np.shape(v) != s.get_value(borrow=True).shape:
                raise ValueError("stage %s: optimizer array %s has shape %s, "
                                 "expected %s" % (self.name, s.name,
                                                  np.shape(v),
                                                  s.get_value().shape))
            s.set_value(np.asarray(v, dtype=s.dtype))


def _lr(value):
    return aesara.shared(np.float32(value), name="learning_rate")


def _adam(loss, params, lr, beta1):
    updates = nn.updates.adam(loss, params, learning_rate=lr, beta1=beta1)
    return updates, nn.updates.optimizer_state(updates, params)


def _bce(p, target):
    p = at.clip(p, EPS, 1 - EPS)
    return -(target * at.log(p) + (1 - target) * at.log(1 - p)).mean()


def mixing_matrix(batch_size, rng, k=5):
    """(B, B) rows of random convex weights over ``k`` distinct batch rows:
    ``M @ z`` gives the random latents z_r (SPEC section 3)."""
    k = min(k, batch_size)
    M = np.zeros((batch_size, batch_size), dtype=np.float32)
    for i in range(batch_size):
        cols = rng.choice(batch_size, k, replace=False)
        w = rng.uniform(0, 1, k) + 1e-6
        M[i, cols] = w / w.sum()
    return M


def _depth(batch):
    d = batch["depth"]
    return d[:, None].astype(np.float32) if d.ndim == 3 else d.astype(np.float32)


LATENTS = ("sample", "mean")


def latent_of_batch(net, batch, rng=None, latent="sample"):
    """(B, 23) z_l of labelled frames: the pose code and the root offset.

    ``latent='sample'`` (the authors' code, ganRender.py l.334-336,
    forwardRender.py l.118): mu + sigma * eps with eps ~ N(0, 0.05^2) drawn
    from ``rng``; ``'mean'``: the VAE mean mu.
    """
    if latent not in LATENTS:
        raise ValueError("latent must be one of %s, got %r"
                         % (", ".join(LATENTS), latent))
    pose = batch["pose"].reshape(len(batch["pose"]), -1).astype(np.float32)
    if latent == "mean":
        code = net.encode_normalised(pose)
    else:
        mu, sigma = net.pose_posterior(pose)
        code = mu + sigma * rng.normal(0, VAE_NOISE_STD, mu.shape)
    return np.concatenate([code.astype(np.float32),
                           batch["origin"].astype(np.float32)], axis=1)


# ---------------------------------------------------------------------------
def vae_stage(net, lr=3e-4, beta1=0.5):
    """Stage 1: loss = sum_batch KL(q(z|y) || N(0, I)) + 0.5 ||y - y_hat||^2.

    Inputs: poses (B, 3J) root-relative / 50 mm, eps (B, 20) ~ N(0, 0.05^2).
    """
    enc, dec = net.encoder, net.decoder
    y = at.matrix("pose", dtype="float32")
    eps = at.matrix("eps", dtype="float32")
    mu, logvar = nn.get_output([enc.mu, enc.logvar], y)
    z = mu + at.exp(0.5 * logvar) * eps
    y_hat = nn.get_output(dec.output, z)
    kl = kl_divergence(mu, logvar).sum()
    recons = 0.5 * ((y - y_hat) ** 2).sum()
    loss = kl + recons
    params = (net.part_params("encoder", trainable=True)
              + net.part_params("decoder", trainable=True))
    lr_var = _lr(lr)
    updates, state = _adam(loss, params, lr_var, beta1)
    fn = compile_function([y, eps], [loss, kl, recons], updates=updates)

    def make_inputs(batch, rng):
        pose = batch["pose"].reshape(len(batch["pose"]), -1).astype(np.float32)
        eps_v = rng.normal(0, VAE_NOISE_STD, (len(pose), POSE_CODE_DIM))
        return [pose, eps_v.astype(np.float32)]
    return Stage("vae", [("vae", fn, ["vae_loss", "kl", "pose_recons"])],
                 params, lr_var, state, make_inputs, batch_source="poses")


def gan_stage(net, lr=3e-4, beta1=0.5, generator_loss="feature_matching",
              fused=True):
    """Stage 2 on unlabelled depth, z ~ U(-1, 1)^23.

    D step: BCE(D(x), 1) + BCE(D(G(z)), 0).
    G step: feature matching, mean |E_batch f5(x) - E_batch f5(G(z))| (conv5
    features), or the paper's -log D(G(z)) with ``generator_loss='logd'``.

    ``fused`` (the default): one compiled function runs both steps and
    computes the generator's forward pass once. Its G step sees the
    discriminator after the D step's update (:func:`nn.updates.after_update`),
    and every batch-norm average moves as in two calls (the generator's
    twice with the same statistics, the discriminator's on the real batch
    again with the updated discriminator's), so an update gives the same
    bits as the two steps run one after the other (``fused=False``).
    """
    if generator_loss not in ("feature_matching", "logd"):
        raise ValueError("generator_loss must be feature_matching or logd")
    G, D = net.generator, net.discriminator
    x = at.tensor4("depth", dtype="float32")
    z = at.matrix("z", dtype="float32")
    # the D step's and the G step's forward passes each move G's averages
    fake = nn.get_output(G.output, {G.input: z},
                         batch_norm_update_averages=2 if fused else True)
    d_real, f5_real = nn.get_output([D.output, D.conv5], {D.input: x})
    d_fake, f5_fake = nn.get_output([D.output, D.conv5], {D.input: fake},
                                    batch_norm_update_averages=False)
    loss_d = _bce(d_real, 1) + _bce(d_fake, 0)
    lr_var = _lr(lr)
    d_params = net.part_params("discriminator", trainable=True)
    g_params = net.part_params("generator", trainable=True)
    d_updates, d_state = _adam(loss_d, d_params, lr_var, beta1)
    if generator_loss == "feature_matching":
        g_terms = [f5_real, f5_fake]
    else:
        g_terms = [d_fake]
    running = OrderedDict()
    if fused:             # the G step's terms: D after the D step's update
        g_terms, running = nn.updates.after_update(g_terms, d_updates)
    if generator_loss == "feature_matching":
        loss_g = abs(g_terms[0].mean(axis=0) - g_terms[1].mean(axis=0)).mean()
    else:
        loss_g = -at.log(at.clip(g_terms[0], EPS, 1)).mean()
    g_updates, g_state = _adam(loss_g, g_params, lr_var, beta1)
    d_outputs = [loss_d, d_real.mean(), d_fake.mean()]
    if fused:
        updates = OrderedDict(d_updates)
        updates.update(g_updates)
        updates.update(running)
        fn = compile_function([x, z], d_outputs + [loss_g], updates=updates)
        steps = [("gan", fn, ["gan_d", "d_real", "d_fake", "gan_g"])]
    else:
        d_fn = compile_function([x, z], d_outputs, updates=d_updates)
        # -log D(G(z)) does not read the real batch: same signature, x unused
        g_fn = compile_function([x, z], [loss_g], updates=g_updates,
                                on_unused_input="ignore")
        steps = [("d", d_fn, ["gan_d", "d_real", "d_fake"]),
                 ("g", g_fn, ["gan_g"])]

    def make_inputs(batch, rng):
        B = len(batch["depth"])
        return [_depth(batch),
                rng.uniform(-1, 1, (B, LATENT_DIM)).astype(np.float32)]
    return Stage("gan", steps, d_params + g_params, lr_var, d_state + g_state,
                 make_inputs, batch_source="all")


def reconstruction_loss(x, x_hat, clip=RECONS_CLIP):
    """L_recons of (B, 1, S, S) normalised depth maps: the mean over batch
    and pixels of min((x - x_hat)^2, clip), the release's (clip 1), or of
    the plain squared error with ``clip=None``.

    The clip gives a pixel whose error exceeds sqrt(clip) no gradient: a
    finger the generator draws as background (error about 1-2) stays
    background. Plain squared error is a crossnet option, not the paper.
    """
    err = (x - x_hat) ** 2
    return (err if clip is None else at.minimum(err, clip)).mean()


def recons_name(clip=RECONS_CLIP):
    """The name L_recons is logged under: ``recons`` clipped (the
    release's), ``recons_sq`` the plain squared error (``clip=None``), so
    one name never stands for two quantities in a run's log."""
    return "recons" if clip is not None else "recons_sq"


def _crossing_terms(net, x_l, z_l, mix, x_real=None, update_g=True,
                    update_d=True, recons_clip=RECONS_CLIP):
    """Symbolic loss terms shared by stages 3a and 3b.

    x_l (B, 1, S, S) labelled depth, z_l (B, 23) their latents, mix (B, B)
    convex weights (z_r = mix @ z_l), x_real (B, 1, S, S) real depth for the
    GAN terms. ``update_g`` / ``update_d``: whether the batch-norm running
    averages of the generator / discriminator conv1-2 move (False when the
    stage freezes them). ``recons_clip``: see :func:`reconstruction_loss`.
    """
    G, D = net.generator, net.discriminator
    z_r = at.dot(mix, z_l)
    z_both = at.concatenate([z_l, z_r], axis=0)
    z_x = nn.get_output(net.alignment, z_both)
    fakes = nn.get_output(G.output, {G.input: z_x},
                          batch_norm_update_averages=update_g)
    B = z_l.shape[0]
    x_hat_l, x_hat_r = fakes[:B], fakes[B:]
    recons = reconstruction_loss(x_l, x_hat_l, recons_clip)
    conv2_l = nn.get_output(D.conv2, {D.input: x_l},
                            batch_norm_update_averages=update_d)
    conv2_fake = nn.get_output(D.conv2, {D.input: at.concatenate(
        [x_hat_r, x_hat_l], axis=0)}, batch_norm_update_averages=False)
    pos_l = nn.get_output(net.posterior_head, {D.conv2: conv2_l})
    m_l = nn.get_output(net.metric_head, {D.conv2: conv2_l})
    m_fake = nn.get_output(net.metric_head, {D.conv2: conv2_fake},
                           batch_norm_update_averages=False)
    m_r, m_hat_l = m_fake[:B], m_fake[B:]
    smo = (((z_l - z_r) - (m_l - m_r)) ** 2).mean() + ((m_l - m_hat_l) ** 2).mean()
    pos = ((pos_l - z_l) ** 2).mean()
    terms = {"recons": recons, "smo": smo, "pos": pos,
             "fakes": at.concatenate([x_hat_r, x_hat_l], axis=0)}
    if x_real is not None:
        d_real, f5_real = nn.get_output([D.output, D.conv5], {D.input: x_real},
                                        batch_norm_update_averages=update_d)
        d_fake, f5_fake = nn.get_output([D.output, D.conv5],
                                        {D.input: terms["fakes"]},
                                        batch_norm_update_averages=False)
        terms["gan_d"] = _bce(d_real, 1) + _bce(d_fake, 0)
        terms["fm"] = abs(f5_real.mean(axis=0) - f5_fake.mean(axis=0)).mean()
    return terms


def _labelled_inputs(net, with_real, latent):
    def make_inputs(batch, rng):
        lab = batch["labelled"] if with_real else batch
        x_l = _depth(lab)
        z_l = latent_of_batch(net, lab, rng, latent)
        mix = mixing_matrix(len(z_l), rng)
        inputs = [x_l, z_l, mix]
        if with_real:
            inputs.append(_depth(batch["real"]))
        return inputs
    return make_inputs


def align_stage(net, lr=1e-2, beta1=0.5, latent="sample",
                recons_clip=RECONS_CLIP, generator_lr=None):
    """Stage 3a: Ali minimises L_recons; the posterior and metric heads
    minimise L_pos + L_smo; generator (unless ``generator_lr``),
    discriminator conv1-2 and VAE frozen.

    L_recons = mean min((x_l - Gen(Ali(z_l)))^2, 1) (``recons_clip``: see
    :func:`reconstruction_loss`);
    L_pos = mean (pos(x_l) - z_l)^2;
    L_smo = mean ((z_l - z_r) - (m(x_l) - m(x_hat_r)))^2
            + mean (m(x_l) - m(x_hat_l))^2.

    ``generator_lr`` (a crossnet option, not the paper; None: frozen): the
    generator learns L_recons beside Ali at this learning rate, scaled by
    the stage's schedule as ``lr`` is. For short runs whose GAN draws no
    hands yet: aligning to a frozen generator then cannot render them.
    """
    x_l = at.tensor4("x_l", dtype="float32")
    z_l = at.matrix("z_l", dtype="float32")
    mix = at.matrix("mix", dtype="float32")
    t = _crossing_terms(net, x_l, z_l, mix, update_g=generator_lr is not None,
                        update_d=False, recons_clip=recons_clip)
    ali_params = net.part_params("alignment", trainable=True)
    g_params = ([] if generator_lr is None
                else net.part_params("generator", trainable=True))
    recons_params = ali_params + g_params
    head_params = (net.part_params("posterior_head", trainable=True)
                   + net.part_params("metric_head", trainable=True))
    lr_var = _lr(lr)
    # one backward pass through the generator serves Ali and its weights
    grads = aesara.grad(t["recons"], recons_params)
    u1, s1 = _adam(grads[:len(ali_params)], ali_params, lr_var, beta1)
    if g_params:
        g_lr = lr_var * np.float32(generator_lr / lr)
        ug, sg = _adam(grads[len(ali_params):], g_params, g_lr, beta1)
        u1.update(ug)
        s1 = s1 + sg
    u2, s2 = _adam(t["pos"] + t["smo"], head_params, lr_var, beta1)
    u1.update(u2)
    fn = compile_function([x_l, z_l, mix], [t["recons"], t["pos"], t["smo"]],
                          updates=u1)
    return Stage("align", [("align", fn, [recons_name(recons_clip), "pos",
                                          "smo"])],
                 recons_params + head_params, lr_var, s1 + s2,
                 _labelled_inputs(net, False, latent), batch_source="labelled")


def cross_stage(net, lr=1e-3, beta1=0.5, latent="sample", adversarial=True,
                recons_clip=RECONS_CLIP,
                feature_matching_weight=FEATURE_MATCHING_WEIGHT):
    """Stage 3b, alternating on the same batch:

    D step: L_GAN_D + L_pos + L_smo -> discriminator, posterior head,
    metric head, with L_GAN_D = BCE(D(x_real), 1) + BCE(D([x_hat_r;
    x_hat_l]), 0);
    G step: L_FM + L_recons + L_smo -> Ali and generator, with L_FM the
    L1 distance of batch means of conv5 features of x_real and the fakes,
    and L_recons as in :func:`align_stage`.

    x_real are real depth maps of all frames (labelled or not: the
    semi-supervised setting); the other terms use labelled frames.

    ``adversarial=False`` (an ablation arm, not the paper): the same
    updates without L_GAN_D and L_FM (D step L_pos + L_smo, G step
    L_recons + L_smo; no real frames). ``feature_matching_weight`` (the
    release: 1) scales L_FM in the G step; 0 keeps L_GAN_D in the D step
    but trains the generator on L_recons + L_smo alone (the demo's
    renders: the discriminator's gradient keeps them speckled at short
    budgets, ``paper_experiments/README.md``).
    """
    x_l = at.tensor4("x_l", dtype="float32")
    z_l = at.matrix("z_l", dtype="float32")
    mix = at.matrix("mix", dtype="float32")
    x_real = at.tensor4("x_real", dtype="float32")
    t = _crossing_terms(net, x_l, z_l, mix, x_real if adversarial else None,
                        recons_clip=recons_clip)
    d_terms = (["gan_d"] if adversarial else []) + ["pos", "smo"]
    g_terms = (["fm"] if adversarial and feature_matching_weight else []
               ) + ["recons", "smo"]
    if adversarial:
        d_params = (net.part_params("discriminator", trainable=True)
                    + net.part_params("posterior_head", trainable=True)
                    + net.part_params("metric_head", trainable=True))
    else:      # D conv3-5 and its output are not in the loss
        d_params = nn.get_all_params([net.posterior_head, net.metric_head],
                                     trainable=True)
    g_params = (net.part_params("alignment", trainable=True)
                + net.part_params("generator", trainable=True))
    lr_var = _lr(lr)
    weight = {"fm": feature_matching_weight}
    d_loss = functools.reduce(operator.add, [t[k] for k in d_terms])
    g_loss = functools.reduce(operator.add, [weight.get(k, 1) * t[k]
                                             for k in g_terms])
    d_updates, d_state = _adam(d_loss, d_params, lr_var, beta1)
    g_updates, g_state = _adam(g_loss, g_params, lr_var, beta1)
    inputs = [x_l, z_l, mix] + ([x_real] if adversarial else [])
    d_fn = compile_function(inputs, [t[k] for k in d_terms], updates=d_updates)
    # without L_FM the G step does not read x_real
    g_fn = compile_function(inputs, [t[k] for k in g_terms], updates=g_updates,
                            on_unused_input="ignore")
    d_names = {"smo": "smo_d"}
    g_names = {"smo": "smo_g", "recons": recons_name(recons_clip)}
    names = ([d_names.get(k, k) for k in d_terms],
             [g_names.get(k, k) for k in g_terms])
    return Stage("cross", [("d", d_fn, names[0]), ("g", g_fn, names[1])],
                 d_params + g_params, lr_var, d_state + g_state,
                 _labelled_inputs(net, adversarial, latent),
                 batch_source="both" if adversarial else "labelled")


def supervised_stage(net, lr=1e-3, beta1=0.5, latent="sample"):
    """Baseline: discriminator conv1-2 + posterior head on
    L_pos = mean (pos(x_l) - z_l)^2, labelled frames only (z_l as in
    :func:`latent_of_batch`)."""
    D = net.discriminator
    x_l = at.tensor4("x_l", dtype="float32")
    z_l = at.matrix("z_l", dtype="float32")
    pos = nn.get_output(net.posterior_head, {D.input: x_l})
    loss = ((pos - z_l) ** 2).mean()
    params = nn.get_all_params(net.posterior_head, trainable=True)  # + D conv1-2
    lr_var = _lr(lr)
    updates, state = _adam(loss, params, lr_var, beta1)
    fn = compile_function([x_l, z_l], [loss], updates=updates)

    def make_inputs(batch, rng):
        return [_depth(batch), latent_of_batch(net, batch, rng, latent)]
    return Stage("supervised", [("pos", fn, ["pos"])], params, lr_var, state,
                 make_inputs, batch_source="labelled")
