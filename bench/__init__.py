"""Benchmarks of the withbowwow backend (`make bench`): load generators, seeder, runner.

Not tests: they write figures to `bench/results/` and `bench/RESULTS.md`; nothing gates on them.
"""
