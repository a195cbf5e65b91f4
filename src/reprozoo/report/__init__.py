"""The report beside the seeds' figures, and the CPU kernel fingerprints that the reproducibility
contract (reprozoo.report.check) reads.

No submodule is imported here, so a stage loads only what it uses.
"""
