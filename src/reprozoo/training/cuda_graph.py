"""A whole training step (forward, backward, optimizer) captured once as a CUDA graph and replayed.

Small models on a GPU spend most of a step launching kernels from Python; a replayed graph
launches them all at once. The capture needs fixed shapes, so full batches replay the graph and a
short last batch runs eagerly. Capturing needs a few warm-up steps; they are run on copies of the
weights and optimizer state, which are then put back, so the training trajectory is unchanged.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn


def can_graph(optimizer: torch.optim.Optimizer, device: torch.device) -> bool:
    """CUDA only, and only optimizers whose step can be replayed: those that accept `capturable`
    (Adam and kin keep their step counter on the device), and SGD without dampening, which has no
    counter and whose momentum buffer may start at zero (see below). LBFGS re-evaluates a closure:
    it cannot.
    """
    if device.type != "cuda":
        return False
    if isinstance(optimizer, torch.optim.SGD):
        return all(group["dampening"] == 0 for group in optimizer.param_groups)
    return "capturable" in optimizer.defaults


class GraphedStep:
    """step(x, y) -> (loss, scores) for batches of one fixed size, by graph replay."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
                 x_example: torch.Tensor, y_example: torch.Tensor, amp: bool = False):
        if "capturable" in optimizer.defaults:
            for group in optimizer.param_groups:
                group["capturable"] = True  # keeps step counters on the device, as capture requires
        model.train()  # the graph records the forward as it runs now: it must be the training one
        self.static_x, self.static_y = x_example.clone(), y_example.clone()
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        saved_model = copy.deepcopy(model.state_dict())
        saved_state = {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in st.items()}
                       for p, st in optimizer.state.items()}

        def step():
            optimizer.zero_grad(set_to_none=False)  # grads must live at fixed addresses across replays
            # torch's CUDA graphs notes: autocast's cache must be off in a captured region.
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp, cache_enabled=False):
                scores = model(self.static_x)
            loss = loss_fn(scores.float(), self.static_y)
            loss.backward()
            optimizer.step()
            return loss, scores

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                step()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            loss, scores = step()
        # Detached: the same memory, which every replay rewrites, but no autograd graph kept alive
        # (torch warned that its gradient accumulators, made on the capture stream, were reused).
        self.loss, self.scores = loss.detach(), scores.detach()
        # The graph writes and reads these very gradient tensors. An eager step in between (the
        # short last batch) sets .grad to None: without these references their memory was freed
        # and reused while replays still wrote into it (device-side index asserts on an H100).
        self.grads = [p.grad for p in self.params]
        # Put weights and optimizer state back in place: the graph holds these very tensors.
        model.load_state_dict(saved_model)
        for p, st in optimizer.state.items():
            for k, v in st.items():
                if torch.is_tensor(v):
                    # A state entry the warm-up created starts at zero, which is what a fresh
                    # Adam (moments, step) and SGD with momentum (buffer, no dampening) hold.
                    if k in saved_state.get(p, {}):
                        v.copy_(saved_state[p][k])
                    else:
                        v.zero_()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.static_x.copy_(x)
        self.static_y.copy_(y)
        for p, grad in zip(self.params, self.grads):
            p.grad = grad  # after an eager step, point .grad back at what the graph updates
        self.graph.replay()
        return self.loss, self.scores
