"""Constructs the hub and spoke stacks are wired from; each file holds one construct with one job."""
