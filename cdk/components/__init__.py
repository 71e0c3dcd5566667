"""Constructs the hub and spoke stacks are wired from; each file holds one construct with one job.

(The folder is not called ``constructs``: that name would shadow the CDK's ``constructs`` library.)
"""
