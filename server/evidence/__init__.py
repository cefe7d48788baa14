"""Encrypted evidence: resumable uploads, ciphertext at rest, audited views."""
