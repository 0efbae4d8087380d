"""WHAT: benchmarks (not tests): speed and overhead targets measured as ratios against a baseline measured
in the same run. `python -m bench` (= `make bench`) runs them all; `python -m bench.<name>` runs one.
"""
