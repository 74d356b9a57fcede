"""kampai's engine: hook specs, plugin loading, registries, config, data, runs and CLI."""
