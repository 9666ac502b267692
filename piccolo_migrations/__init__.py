"""Piccolo migrations of the "chainwatch" app (see adapters/piccolo/piccolo_app.py)."""
