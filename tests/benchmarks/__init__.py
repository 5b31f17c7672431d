"""Tests of the runnable benchmarks."""
