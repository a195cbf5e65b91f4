"""The training maths, below the tasks: the loop, optimizers, figures, checkpoints, data-parallel set-up,
CUDA graphs, the runtime (threads, device, seeds), a saved model's program read back. Nothing here knows
a task, MLflow or a stage. No submodule is imported here, so a stage loads only what it uses.
"""
