"""What a run is told: params.yaml read and checked (params), its errors, the seeds' catalogue.

No submodule is imported here: a stage loads only what it uses, and dvc.yaml names this folder as a dep.
"""
