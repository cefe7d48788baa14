"""Tamper-evident audit log: every sensitive read and every decision."""
