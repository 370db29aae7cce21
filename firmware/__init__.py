"""The agent on every Pi: call-centre panel and field call-box profiles.

Hardware is reached only through gpiozero and the modem driver; both are
imported lazily so every module imports on a machine without a Pi.
"""
