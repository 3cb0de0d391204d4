"""Logical graph -> physical plan (chains, parallelism, partitioning)."""
