"""The seeds' basics: regression, tabular, sequence and SVD experiments (params under `zoo` in params.yaml)."""
