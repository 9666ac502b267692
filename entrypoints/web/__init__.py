"""The analyst console."""
