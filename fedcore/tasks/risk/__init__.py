"""The risk task: a federated DP classifier of a categorical column."""
