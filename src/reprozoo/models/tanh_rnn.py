"""nn.RNN (tanh) training on the CPU with the weight gradients taken in one matrix product per layer.

torch's CPU RNN records every time step in autograd, so its backward does two small matrix
products per step and layer (input and weight gradient). Here the backward loop does only the
one the recurrence needs (the gradient through h_{t-1}); the weight, bias and input gradients
of all time steps are then single large products, which the BLAS runs faster than many small
ones. On s000's 3-layer, 150-unit RNN at batch 128 this made training 10-15 % faster on the
project's 2-core CPU (docs/speed.md).
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
        h = out.unbind(0)  # the step views, made once: indexing out[t] in the loop costs a call each
        h[0].tanh_()
        for t in range(1, steps):
            h[t].addmm_(h[t - 1], w_hh_t).tanh_()
        ctx.save_for_backward(x, w_ih, w_hh, out)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        x, w_ih, w_hh, out = ctx.saved_tensors
        steps, batch, hidden = out.shape
        # One contiguous buffer we own: step t holds d loss / d h_t until tanh_backward turns it, in
        # place, into d loss / d (pre-activation at t). Each step adds its recurrent gradient into the
        # row before in place (an in-place product into contiguous rows is ~2x faster here than a new
        # one from strided rows), and no second buffer is allocated and faulted in.
        grad = grad_out.clone(memory_format=torch.contiguous_format)
        g, h = grad.unbind(0), out.unbind(0)
        for t in range(steps - 1, -1, -1):
            torch.ops.aten.tanh_backward(g[t], h[t], grad_input=g[t])
            if t:  # the gradient reaching h_{t-1}: from the output at t-1 and through W_hh
                g[t - 1].addmm_(g[t], w_hh)
        flat = grad.view(steps * batch, hidden)
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
