"""Input data: validating tidy frames into the arrays a law is fitted to (layer 1, above core)."""
