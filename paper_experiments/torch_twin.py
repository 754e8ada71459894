"""A PyTorch twin of crossnet's stage-3b update, for timing.py only.

Same architecture, weights copied from a CrossingNet, same inputs, same loss
terms grouped into the same batch-norm batches as ``crossnet.training.stages``
(so the first update's losses must agree), Adam with beta1 = 0.5. Kernel
orientation: crossnet's convolutions are true convolutions and its transposed
convolutions adjoints of true convolutions, so every kernel is flipped for
PyTorch's cross-correlation.
"""
import numpy as np

import torch
import torch.nn as tnn
import torch.nn.functional as F

from crossnet import nn as cnn


def _flip(W):
    return torch.from_numpy(np.ascontiguousarray(W[:, :, ::-1, ::-1]))


def _bn(layer, dims):
    bn = (tnn.BatchNorm1d if dims == 1 else tnn.BatchNorm2d)(
        layer.beta.get_value().shape[0], eps=layer.epsilon, momentum=layer.alpha)
    bn.weight.data = torch.from_numpy(layer.gamma.get_value().copy())
    bn.bias.data = torch.from_numpy(layer.beta.get_value().copy())
    return bn


class Twin(tnn.Module):
    """Generator, Ali, discriminator and both heads of one CrossingNet."""

    def __init__(self, net):
        super().__init__()
        lay = {}
        for top in (net.generator.output, net.posterior_head, net.metric_head,
                    net.discriminator.output, net.alignment):
            for x in cnn.get_all_layers(top):
                if x.name:
                    lay[x.name] = x
        self.ali = tnn.Linear(23, 23, bias=False)
        self.ali.weight.data = torch.from_numpy(lay["ali_fc"].W.get_value().T.copy())
        self.ali_bn = _bn(lay["ali_bn"], 1)
        self.gen_fc = tnn.Linear(23, lay["gen_fc"].num_units, bias=False)
        self.gen_fc.weight.data = torch.from_numpy(lay["gen_fc"].W.get_value().T.copy())
        self.gen_fc_bn = _bn(lay["gen_fc_bn"], 1)
        self.start = int(round((lay["gen_fc"].num_units / 32) ** 0.5))
        self.deconvs = tnn.ModuleList()
        self.deconv_bns = tnn.ModuleList()
        for i in range(1, 5):
            d = tnn.ConvTranspose2d(32, 32, 6, 2, 2, bias=False)
            d.weight.data = _flip(lay["gen_deconv%d" % i].W.get_value())
            self.deconvs.append(d)
            self.deconv_bns.append(_bn(lay["gen_deconv%d_bn" % i], 2))
        self.deconv5 = tnn.ConvTranspose2d(32, 1, 6, 2, 2, bias=True)
        self.deconv5.weight.data = _flip(lay["gen_deconv5"].W.get_value())
        self.deconv5.bias.data = torch.from_numpy(lay["gen_deconv5"].b.get_value().copy())

        def conv_block(name):
            c = tnn.Conv2d(lay[name].W.get_value().shape[1], 32, 6, 2, 2, bias=False)
            c.weight.data = _flip(lay[name].W.get_value())
            return tnn.Sequential(c, _bn(lay[name + "_bn"], 2), tnn.LeakyReLU(0.2))
        self.d12 = tnn.Sequential(conv_block("dis_conv1"), conv_block("dis_conv2"))
        self.d345 = tnn.Sequential(*[conv_block("dis_conv%d" % i) for i in (3, 4, 5)])
        self.d_out = tnn.Linear(512, 1)
        self.d_out.weight.data = torch.from_numpy(lay["dis_out"].W.get_value().T.copy())
        self.d_out.bias.data = torch.from_numpy(lay["dis_out"].b.get_value().copy())

        def head(prefix, hidden):
            convs = tnn.Sequential(*[conv_block("%s_conv%d" % (prefix, i))
                                     for i in (3, 4, 5)])
            fc = tnn.Linear(512, hidden, bias=False)
            fc.weight.data = torch.from_numpy(lay[prefix + "_fc"].W.get_value().T.copy())
            out = tnn.Linear(hidden, 23)
            out.weight.data = torch.from_numpy(lay[prefix + "_out"].W.get_value().T.copy())
            out.bias.data = torch.from_numpy(lay[prefix + "_out"].b.get_value().copy())
            return tnn.Sequential(convs, tnn.Flatten(), fc,
                                  _bn(lay[prefix + "_fc_bn"], 1),
                                  tnn.LeakyReLU(0.2), out)
        self.posterior = head("pos", 23)
        self.metric = head("metr", 512)

    def generate(self, z):
        h = F.relu(self.gen_fc_bn(self.gen_fc(torch.tanh(z))))
        h = h.reshape(-1, 32, self.start, self.start)
        for d, bn in zip(self.deconvs, self.deconv_bns):
            h = F.relu(bn(d(h)))
        return torch.tanh(self.deconv5(h))

    def discriminate(self, x):
        h5 = self.d345(self.d12(x))
        return torch.sigmoid(self.d_out(h5.flatten(1))), h5

    def terms(self, x_l, z_l, mix, x_real):
        """The loss terms of stages 3a/3b, as in crossnet's _crossing_terms."""
        B = z_l.shape[0]
        z_r = mix @ z_l
        fakes = self.generate(self.ali_bn(self.ali(torch.cat([z_l, z_r]))))
        x_hat_l, x_hat_r = fakes[:B], fakes[B:]
        recons = torch.clamp((x_l - x_hat_l) ** 2, max=1).mean()
        c2_l = self.d12(x_l)
        c2_fake = self.d12(torch.cat([x_hat_r, x_hat_l]))
        pos = ((self.posterior(c2_l) - z_l) ** 2).mean()
        m_l = self.metric(c2_l)
        m_fake = self.metric(c2_fake)
        m_r, m_hat_l = m_fake[:B], m_fake[B:]
        smo = (((z_l - z_r) - (m_l - m_r)) ** 2).mean() + ((m_l - m_hat_l) ** 2).mean()
        d_real, f5_real = self.discriminate(x_real)
        d_fake, f5_fake = self.discriminate(torch.cat([x_hat_r, x_hat_l]))
        eps = 1e-7
        gan_d = -torch.log(d_real.clamp(eps, 1 - eps)).mean() \
            - torch.log(1 - d_fake.clamp(eps, 1 - eps)).mean()
        fm = (f5_real.mean(0) - f5_fake.mean(0)).abs().mean()
        return {"gan_d": gan_d, "pos": pos, "smo": smo, "fm": fm, "recons": recons}


class TwinCrossStep(object):
    """D step (gan_d + pos + smo) then G step (fm + recons + smo), Adam."""

    def __init__(self, net, lr=1e-3):
        self.twin = Twin(net)
        t = self.twin
        d_params = list(t.d12.parameters()) + list(t.d345.parameters()) + \
            list(t.d_out.parameters()) + list(t.posterior.parameters()) + \
            list(t.metric.parameters())
        g_params = list(t.ali.parameters()) + list(t.ali_bn.parameters()) + \
            list(t.gen_fc.parameters()) + list(t.gen_fc_bn.parameters()) + \
            list(t.deconvs.parameters()) + list(t.deconv_bns.parameters()) + \
            list(t.deconv5.parameters())
        self.opt_d = torch.optim.Adam(d_params, lr=lr, betas=(0.5, 0.999), eps=1e-8)
        self.opt_g = torch.optim.Adam(g_params, lr=lr, betas=(0.5, 0.999), eps=1e-8)

    def step(self, inputs):
        x_l, z_l, mix, x_real = [torch.from_numpy(np.ascontiguousarray(a))
                                 for a in inputs]
        self.twin.train()
        t = self.twin.terms(x_l, z_l, mix, x_real)
        self.opt_d.zero_grad()
        (t["gan_d"] + t["pos"] + t["smo"]).backward()
        self.opt_d.step()
        out = {"gan_d": t["gan_d"].item(), "pos": t["pos"].item(),
               "smo_d": t["smo"].item()}
        t = self.twin.terms(x_l, z_l, mix, x_real)
        self.opt_g.zero_grad()
        (t["fm"] + t["recons"] + t["smo"]).backward()
        self.opt_g.step()
        out.update(fm=t["fm"].item(), recons=t["recons"].item(),
                   smo_g=t["smo"].item())
        return out
