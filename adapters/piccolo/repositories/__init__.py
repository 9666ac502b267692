"""The repository ports over Piccolo, one module per port, and their unit of work."""
