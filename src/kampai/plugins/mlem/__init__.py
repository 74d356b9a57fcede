"""MLEM serializer plugin (stub)."""
