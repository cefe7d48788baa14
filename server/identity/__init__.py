"""Jurisdictions, accounts, devices, sessions and the access policy."""
