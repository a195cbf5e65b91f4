"""Speed: `make bench` (samples/s of each classifier) against the machine's measured matmul peak."""
