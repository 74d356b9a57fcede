"""MLflow plugin (stub)."""
