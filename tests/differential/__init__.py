"""Differential tests: chaosdurable against AWS's DurableFunctionTestRunner on generated workflows."""
