"""Test support: a private Mosquitto broker and MQTT helpers."""
