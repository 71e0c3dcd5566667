"""Evaluation counts of predictive tasks and the metrics read off them (torch-free: the hub sums them)."""
