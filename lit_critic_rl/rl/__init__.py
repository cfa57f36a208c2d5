"""What every objective shares: masked statistics (optionally over all processes), token log-probs and entropies,
KL estimators, batch statistics for logging, and the update loop's optimizer steps."""
