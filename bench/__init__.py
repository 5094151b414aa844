"""Load benchmarks: the real service against baselines measured in the same run (`make bench`)."""
