"""Mosquitto configuration for a site: config file, password file, ACL."""
