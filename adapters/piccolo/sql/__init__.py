"""SQL plumbing: engine and configuration, sessions, value binding, statements, errors."""
