"""Delivering cases to OPDs: signing, the outbox worker, the channels."""
