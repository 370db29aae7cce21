"""The unit agent: one program on every Pi, two profiles (``field``, ``panel``).

Why this shape: every event (a press, a call) is committed to local SQLite
first, then a single main-loop thread sends it through an outbox that only
forgets an item when the gateway's end-to-end ack for its id arrives.
Callbacks from paho, gpiozero and the modem reader only put work on a queue.

Modules: ``config`` (YAML -> pydantic), ``store`` (SQLite, migrations, seq),
``outbox`` (in-flight window, backoff), ``link`` (MQTT), ``hardware``
(gpiozero), ``modem`` (driver adapter), ``field`` / ``panel`` (profiles),
``fleet`` (desired config, commands), ``health`` (telemetry, faults),
``simcontrol`` (test-only press injection), ``agent`` (the main loop).
"""
