"""Benchmarks that time our clients against simulated devices on real endpoints."""
