"""Model loading and the adapter-shared policy / value / reference model."""
