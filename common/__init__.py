"""Infrastructure shared by every model family: data, training loop, checkpoints."""
