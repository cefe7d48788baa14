"""Face biometrics: pure analysis core (decoding, encoding, quality, liveness)."""
