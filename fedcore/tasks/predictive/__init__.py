"""What the predictive tasks (risk, survival) share: encoding, network, training, evaluation releases."""
