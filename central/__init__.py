"""Fleet and site administration: registry, provisioning, broker config,
desired configuration, commands, health."""
