"""What a run needs around a task: the harness, MLflow tracking, checkpoints, outputs, owners and dead
runs, timing, the runtime (threads, device, seeds), distributed set-up, and the plain training loop.

No submodule is imported here, so a stage loads only what it uses.
"""
