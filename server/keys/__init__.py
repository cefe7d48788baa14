"""Key service: key-encryption keys, data keys, token signing keys."""
