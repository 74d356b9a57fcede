"""Built-in framework plugins, one subpackage each, registered through entry points."""
