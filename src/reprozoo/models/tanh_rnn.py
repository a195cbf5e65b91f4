"""nn.RNN (tanh) training on the CPU with the weight gradients taken in one matrix product per layer.

torch's CPU RNN records every time step in autograd, so its backward does two small matrix
products per step and layer (input and weight gradient). Here the backward loop does only the
one the recurrence needs (the gradient through h_{t-1}); the weight, bias and input gradients
of all time steps are then single large products, which the BLAS runs faster than many small
ones. On s000's 3-layer, 150-unit RNN at batch 128 this made training 10-15 % faster on the
project's 2-core CPU (see README, Speed).
Same maths as nn.RNN, so the same parameters train the same model; only float rounding differs.
"""

from __future__ import annotations

import torch
from torch import nn


class _TanhLayer(torch.autograd.Function):
    """One layer over a whole (T, N, I) sequence from a zero initial state; returns all (T, N, H) states."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh):
        steps, batch, features = x.shape
        # Input projections of every step in one product; each step then adds its recurrent term.
        out = torch.addmm(b_ih + b_hh, x.reshape(steps * batch, features), w_ih.t()).view(steps, batch, -1)
        w_hh_t = w_hh.t()
        out[0].tanh_()
        for t in range(1, steps):
            out[t].addmm_(out[t - 1], w_hh_t).tanh_()
        ctx.save_for_backward(x, w_ih, w_hh, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, w_ih, w_hh, out = ctx.saved_tensors
        steps, batch, hidden = out.shape
        grad_pre = torch.empty_like(out)  # d loss / d (pre-activation) at every step
        # A contiguous copy we own, so each step adds its recurrent gradient in place (an in-place
        # product into contiguous rows is ~2x faster here than a new one from strided rows).
        grad_h = torch.empty_like(out).copy_(grad_out)
        for t in range(steps - 1, -1, -1):
            torch.ops.aten.tanh_backward(grad_h[t], out[t], grad_input=grad_pre[t])
            if t:  # the gradient reaching h_{t-1}: from the output at t-1 and through W_hh
                grad_h[t - 1].addmm_(grad_pre[t], w_hh)
        flat = grad_pre.view(steps * batch, hidden)
        grad_w_hh = flat[batch:].t() @ out[:-1].reshape((steps - 1) * batch, hidden)
        grad_w_ih = flat.t() @ x.reshape(steps * batch, -1)
        grad_b = flat.sum(0)
        grad_x = (flat @ w_ih).view(x.shape) if ctx.needs_input_grad[0] else None
        return grad_x, grad_w_ih, grad_w_hh, grad_b, grad_b


# False: always torch's own nn.RNN (the benchmark's seed-style reference turns this off).
ENABLED = True


def can_use(rnn: nn.Module, x: torch.Tensor) -> bool:
    """Training (train mode, grad on) a one-way, batch-first tanh nn.RNN on float32 CPU tensors."""
    return (ENABLED and isinstance(rnn, nn.RNN) and rnn.training and torch.is_grad_enabled()
            and rnn.nonlinearity == "tanh" and rnn.bias and rnn.batch_first and not rnn.bidirectional
            and rnn.dropout == 0 and x.device.type == "cpu" and x.dtype == torch.float32)


def tanh_rnn(rnn: nn.RNN, x: torch.Tensor) -> torch.Tensor:
    """rnn(x)[0] for batch-first x (N, T, I) from a zero state, by _TanhLayer: (N, T, H)."""
    h = x.transpose(0, 1)
    for layer in range(rnn.num_layers):
        h = _TanhLayer.apply(h, *(getattr(rnn, f"{name}_l{layer}")
                                  for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))
    return h.transpose(0, 1)
