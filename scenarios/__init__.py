"""WORKLOAD: realistic durable workflows, shipped as ``chaosdurable.scenarios``."""
