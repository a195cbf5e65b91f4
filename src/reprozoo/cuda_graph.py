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


def can_graph(optimizer: torch.optim.Optimizer, device: torch.device, amp: bool) -> bool:
    """CUDA only, and only optimizers that accept `capturable` (LBFGS re-evaluates a closure: it cannot).

    Not with bf16 autocast: capturing under autocast failed on an H100 (a device-side index assert).
    """
    return device.type == "cuda" and "capturable" in optimizer.defaults and not amp


class GraphedStep:
    """step(x, y) -> (loss, scores) for batches of one fixed size, by graph replay."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
                 x_example: torch.Tensor, y_example: torch.Tensor):
        for group in optimizer.param_groups:
            group["capturable"] = True  # keeps step counters on the device, as capture requires
        self.static_x, self.static_y = x_example.clone(), y_example.clone()
        saved_model = copy.deepcopy(model.state_dict())
        saved_state = {p: {k: v.clone() if torch.is_tensor(v) else v for k, v in st.items()}
                       for p, st in optimizer.state.items()}

        def step():
            optimizer.zero_grad(set_to_none=False)  # grads must live at fixed addresses across replays
            scores = model(self.static_x)
            loss = loss_fn(scores, self.static_y)
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
            self.loss, self.scores = step()
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
        self.graph.replay()
        return self.loss, self.scores
