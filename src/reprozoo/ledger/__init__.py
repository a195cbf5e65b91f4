"""What a run reports besides its outputs: its MLflow run and retries, its owner, progress and time lines,
a stage's one-line errors. Nothing here decides a byte of an output, so no stage lists this folder in its
deps: a change here retrains nothing (docs/pipeline.md, "What a stage depends on").
"""
