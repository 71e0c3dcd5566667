"""AWS adapters: the only part of fedcore that talks to S3, KMS and DynamoDB.

Each adapter implements a fedcore interface (blob store, key provider, ledger store, audit
store, run store) over a boto3 client that the caller may pass in (``client=None`` makes
the default one), so the same code runs against AWS and the local emulator.
"""
