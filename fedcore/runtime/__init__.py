"""The serverless round, AWS-free: each step the state machine runs, over storage interfaces.

Lambda handlers in ``functions/`` and the trainer container build the AWS adapters and
call exactly one function here; tests and the sandbox call the same functions.
"""
