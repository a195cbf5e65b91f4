"""Above the tasks: what runs an experiment's phase and writes its outputs (phases.py), the Context a task
is handed, the spread's seeds, a trained model saved and loaded back. Every module here can shape a stage's
outputs, so the stages that run experiments list this folder in their deps (docs/pipeline.md).
"""
