"""The run core: actions, results, runs, errors, config, secrets. Imports no other layer."""
