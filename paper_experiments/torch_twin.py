"""PyTorch twins of crossnet's training stages, for timing.py only.

Every network is converted from crossnet's layer graph (:func:`torch_chain`,
layer by layer, by type), never typed again: a change to ``depth_gan.py``
reaches the twin or fails here. The weights are copied from a CrossingNet;
each stage's loss terms are grouped into the same batch-norm batches as in
``crossnet.training.stages`` (so the first update's losses agree) and each
step updates the same parameters (crossnet's own lists, mapped), with Adam
(beta1 = 0.5). Only the parameters a step updates require gradients, so
PyTorch, like aesara, computes no gradient it does not use.

Kernel orientation: a crossnet ``Conv2DLayer`` with ``flip_filters=True`` is
a true convolution, a ``TransposedConv2DLayer`` with ``flip_filters=False``
the adjoint of one; PyTorch's are cross-correlations, so those kernels are
flipped.
"""
import numpy as np

import torch
import torch.nn as tnn

from crossnet import nn as cnn

__all__ = ["torch_chain", "Twin", "TWIN_STEPS", "twin_step"]

EPS = 1e-7


def _tensor(a):
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _nonlinearity(f, where):
    """The torch module of a crossnet nonlinearity (None for identity)."""
    leak = cnn.nonlinearities.leak_of(f)
    if leak == 1.0:
        return None
    if leak == 0.0:
        return tnn.ReLU()
    if leak is not None:
        return tnn.LeakyReLU(leak)
    if f is cnn.nonlinearities.tanh:
        return tnn.Tanh()
    if f is cnn.nonlinearities.sigmoid:
        return tnn.Sigmoid()
    raise ValueError("torch_chain: %s: no torch twin for nonlinearity %r"
                     % (where, f))


class _Reshape(tnn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape        # crossnet's: [k] copies input size k

    def forward(self, x):
        return x.reshape(tuple(x.shape[s[0]] if isinstance(s, list) else s
                               for s in self.shape))


def _param(module, name, shared, value, params):
    p = tnn.Parameter(_tensor(value))
    setattr(module, name, p)
    params[shared] = p


def _convert(lay, params, where):
    """[torch modules] of one crossnet layer (training mode)."""
    mods = []
    if isinstance(lay, cnn.Conv2DLayer):
        transposed = isinstance(lay, cnn.TransposedConv2DLayer)
        W = lay.W.get_value()
        flip = (not lay.flip_filters) if transposed else lay.flip_filters
        if flip:
            W = W[:, :, ::-1, ::-1]
        cls = tnn.ConvTranspose2d if transposed else tnn.Conv2d
        c_in = W.shape[0] if transposed else W.shape[1]
        c_out = W.shape[1] if transposed else W.shape[0]
        m = cls(c_in, c_out, tuple(lay.filter_size), tuple(lay.stride),
                tuple(lay.pad), bias=lay.b is not None)
        _param(m, "weight", lay.W, W, params)
        if lay.b is not None:
            _param(m, "bias", lay.b, lay.b.get_value(), params)
        mods.append(m)
        f = lay.nonlinearity
    elif isinstance(lay, cnn.DenseLayer):
        if len(lay.input_shape) > 2:
            mods.append(tnn.Flatten(1))
        W = lay.W.get_value()
        m = tnn.Linear(W.shape[0], W.shape[1], bias=lay.b is not None)
        _param(m, "weight", lay.W, W.T, params)
        if lay.b is not None:
            _param(m, "bias", lay.b, lay.b.get_value(), params)
        mods.append(m)
        f = lay.nonlinearity
    elif isinstance(lay, cnn.BatchNormLayer):
        ndim = len(lay.input_shape)
        if lay.axes != (0,) + tuple(range(2, ndim)):
            raise ValueError("torch_chain: %s normalises over axes %s; only "
                             "per-channel batch norm has a twin" % (where, lay.axes))
        cls = tnn.BatchNorm1d if ndim == 2 else tnn.BatchNorm2d
        m = cls(lay.beta.get_value().shape[0], eps=lay.epsilon,
                momentum=lay.alpha)
        _param(m, "weight", lay.gamma, lay.gamma.get_value(), params)
        _param(m, "bias", lay.beta, lay.beta.get_value(), params)
        m.running_mean.copy_(_tensor(lay.mean.get_value()))
        m.running_var.copy_(_tensor(lay.inv_std.get_value() ** -2.0 - lay.epsilon))
        mods.append(m)
        f = None
    elif isinstance(lay, cnn.NonlinearityLayer):
        f = lay.nonlinearity
    elif isinstance(lay, cnn.ReshapeLayer):
        mods.append(_Reshape(lay.shape))
        f = None
    else:
        raise ValueError("torch_chain: no torch twin for %s" % where)
    act = _nonlinearity(f, where)
    return mods + ([act] if act is not None else [])


def torch_chain(top, stop_at=None, params=None):
    """``torch.nn.Sequential`` of the layers from the input (or above
    ``stop_at``) up to ``top``, which must form a chain. ``params`` (dict)
    receives crossnet shared variable -> torch Parameter."""
    params = {} if params is None else params
    layers = cnn.get_all_layers(top)
    if stop_at is not None:
        layers = layers[layers.index(stop_at) + 1:]
    mods, below = [], stop_at
    for lay in layers:
        where = "layer %s" % lay.label
        if isinstance(lay, cnn.InputLayer):
            below = lay
            continue
        if below is not None and lay.input_layer is not below:
            raise ValueError("torch_chain: %s is not on the layer before it; "
                             "only chains convert" % where)
        mods.extend(_convert(lay, params, where))
        below = lay
    return tnn.Sequential(*mods)


class Twin(object):
    """Every part of one CrossingNet as torch chains, weights copied."""

    def __init__(self, net):
        D, enc, dec = net.discriminator, net.encoder, net.decoder
        self.net = net
        self.params = {}
        chain = lambda top, below=None: torch_chain(top, below, self.params)
        self.enc_fc1 = chain(enc.fc1)
        self.enc_mu = chain(enc.mu, enc.fc1)
        self.enc_logvar = chain(enc.logvar, enc.fc1)
        self.decoder = chain(dec.output)
        self.ali = chain(net.alignment, net.alignment_input)
        self.generator = chain(net.generator.output, net.generator.input)
        self.d12 = chain(D.conv2, D.input)
        self.d345 = chain(D.conv5, D.conv2)
        self.d_out = chain(D.output, D.conv5)
        self.posterior = chain(net.posterior_head, D.conv2)
        self.metric = chain(net.metric_head, D.conv2)

    def torch_params(self, shared):
        """The torch Parameters of crossnet shared variables ``shared``."""
        missing = [p.name for p in shared if p not in self.params]
        if missing:
            raise ValueError("no torch twin of %s" % ", ".join(missing))
        return [self.params[p] for p in shared]

    def discriminate(self, x):
        """(P(real), conv5 features) of depth maps."""
        h5 = self.d345(self.d12(x))
        return self.d_out(h5), h5

    def crossing_terms(self, x_l, z_l, mix, x_real=None):
        """Stages 3a/3b's loss terms, batched as ``stages._crossing_terms``."""
        B = z_l.shape[0]
        z_r = mix @ z_l
        fakes = self.generator(self.ali(torch.cat([z_l, z_r])))
        x_hat_l, x_hat_r = fakes[:B], fakes[B:]
        fakes = torch.cat([x_hat_r, x_hat_l])
        recons = torch.clamp((x_l - x_hat_l) ** 2, max=1).mean()
        c2_l = self.d12(x_l)
        pos = ((self.posterior(c2_l) - z_l) ** 2).mean()
        m_l = self.metric(c2_l)
        m_fake = self.metric(self.d12(fakes))
        m_r, m_hat_l = m_fake[:B], m_fake[B:]
        t = {"recons": recons, "pos": pos,
             "smo": (((z_l - z_r) - (m_l - m_r)) ** 2).mean()
             + ((m_l - m_hat_l) ** 2).mean()}
        if x_real is not None:
            d_real, f5_real = self.discriminate(x_real)
            d_fake, f5_fake = self.discriminate(fakes)
            t["gan_d"] = _bce(d_real, 1) + _bce(d_fake, 0)
            t["fm"] = (f5_real.mean(0) - f5_fake.mean(0)).abs().mean()
        return t


def _bce(p, target):
    p = p.clamp(EPS, 1 - EPS)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p)).mean()


class _Adam(object):
    """Adam (beta1 0.5) on a list of Parameters, which alone require
    gradients while a step computes its loss."""

    def __init__(self, twin, shared, lr):
        self.params = twin.torch_params(shared)
        self.all = list(twin.params.values())
        self.opt = torch.optim.Adam(self.params, lr=lr, betas=(0.5, 0.999),
                                    eps=1e-8)

    def __enter__(self):
        for p in self.all:
            p.requires_grad_(False)
        for p in self.params:
            p.requires_grad_(True)
        self.opt.zero_grad()
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.opt.step()


def _parts(net, *parts):
    return [p for part in parts for p in net.part_params(part, trainable=True)]


def _vae(tw, lr):
    opt = _Adam(tw, _parts(tw.net, "encoder", "decoder"), lr)

    def step(pose, eps):
        with opt:
            h = tw.enc_fc1(pose)
            mu, logvar = tw.enc_mu(h), tw.enc_logvar(h)
            y_hat = tw.decoder(mu + torch.exp(0.5 * logvar) * eps)
            kl = (-0.5 * (1 + logvar - mu ** 2 - torch.exp(logvar)).sum(1)).sum()
            recons = 0.5 * ((pose - y_hat) ** 2).sum()
            (kl + recons).backward()
        return {"vae_loss": (kl + recons).item(), "kl": kl.item(),
                "pose_recons": recons.item()}
    return step


def _gan(tw, lr):
    d_opt = _Adam(tw, _parts(tw.net, "discriminator"), lr)
    g_opt = _Adam(tw, _parts(tw.net, "generator"), lr)

    def step(x, z):
        # one generator forward pass serves both steps (PyTorch's usual GAN
        # loop; crossnet's gan_stage(fused=True) does the same)
        for p in g_opt.params:
            p.requires_grad_(True)
        fake = tw.generator(z)
        with d_opt:
            d_real, _ = tw.discriminate(x)
            d_fake, _ = tw.discriminate(fake.detach())
            loss_d = _bce(d_real, 1) + _bce(d_fake, 0)
            loss_d.backward()
        with g_opt:
            _, f5_real = tw.discriminate(x)
            _, f5_fake = tw.discriminate(fake)
            loss_g = (f5_real.mean(0) - f5_fake.mean(0)).abs().mean()
            loss_g.backward()
        return {"gan_d": loss_d.item(), "d_real": d_real.mean().item(),
                "d_fake": d_fake.mean().item(), "gan_g": loss_g.item()}
    return step


def _align(tw, lr):
    ali = _parts(tw.net, "alignment")
    opt = _Adam(tw, ali + _parts(tw.net, "posterior_head", "metric_head"), lr)
    ali, heads = opt.params[:len(ali)], opt.params[len(ali):]

    def step(x_l, z_l, mix):
        with opt:
            t = tw.crossing_terms(x_l, z_l, mix)
            g_ali = torch.autograd.grad(t["recons"], ali, retain_graph=True)
            g_heads = torch.autograd.grad(t["pos"] + t["smo"], heads)
            for p, g in zip(opt.params, g_ali + g_heads):
                p.grad = g
        return {k: t[k].item() for k in ("recons", "pos", "smo")}
    return step


def _cross(tw, lr):
    d_opt = _Adam(tw, _parts(tw.net, "discriminator", "posterior_head",
                             "metric_head"), lr)
    g_opt = _Adam(tw, _parts(tw.net, "alignment", "generator"), lr)

    def step(x_l, z_l, mix, x_real):
        with d_opt:
            t = tw.crossing_terms(x_l, z_l, mix, x_real)
            (t["gan_d"] + t["pos"] + t["smo"]).backward()
        out = {"gan_d": t["gan_d"].item(), "pos": t["pos"].item(),
               "smo_d": t["smo"].item()}
        with g_opt:
            t = tw.crossing_terms(x_l, z_l, mix, x_real)
            (t["fm"] + t["recons"] + t["smo"]).backward()
        out.update(fm=t["fm"].item(), recons=t["recons"].item(),
                   smo_g=t["smo"].item())
        return out
    return step


def _supervised(tw, lr):
    opt = _Adam(tw, cnn.get_all_params(tw.net.posterior_head, trainable=True), lr)

    def step(x_l, z_l):
        with opt:
            pos = ((tw.posterior(tw.d12(x_l)) - z_l) ** 2).mean()
            pos.backward()
        return {"pos": pos.item()}
    return step


# stage -> (twin step builder, crossnet's learning rate of the stage)
TWIN_STEPS = {"vae": (_vae, 3e-4), "gan": (_gan, 3e-4), "align": (_align, 1e-2),
              "cross": (_cross, 1e-3), "supervised": (_supervised, 1e-3)}


def twin_step(net, stage):
    """A function of a crossnet stage's inputs (``Stage.make_inputs``) that
    runs one update of ``stage`` in PyTorch on a copy of ``net``'s weights
    and returns the same loss terms."""
    build, lr = TWIN_STEPS[stage]
    fn = build(Twin(net), lr)

    def step(inputs):
        return fn(*[torch.from_numpy(np.ascontiguousarray(a)) for a in inputs])
    return step

