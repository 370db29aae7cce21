"""What the test suite and the benchmarks share: stand-ins for the other end
(a centre that acks, OPD servers, a cuttable link), agent runners, an MQTT
test client, a private PostgreSQL, hostile payloads, and one ``wait_for``.

Outside ``tests/`` so that ``bench/`` never imports the test suite; the old
``tests/.../support`` modules re-export from here.
"""
