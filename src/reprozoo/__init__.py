"""reprozoo: reproducible re-runs of classic deep-learning tutorial experiments."""

from pathlib import Path

# The repository root: stages resolve data/, models/ and metrics/ against it.
ROOT = Path(__file__).resolve().parents[2]
