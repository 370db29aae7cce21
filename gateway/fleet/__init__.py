"""The fleet wing of the gateway: registry, health watch, desired config,
commands and rollouts over the gateway's own database (docs/fleet.md).
``siaga admin`` (package ``central``) uses this code for everything that is
not the admin host's own job (broker files, SD-card bundles, release keys)."""
