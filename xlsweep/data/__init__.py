"""Benchmarks (per-language ``datasets.Dataset``s), featurisation and episode samplers."""
