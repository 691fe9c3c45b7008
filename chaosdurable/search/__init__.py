"""The bug search behind ``chaosdurable run``."""
