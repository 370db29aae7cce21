"""`siaga demo`: the whole system on one machine, with simulated hardware and
stand-in OPD systems, so a newcomer sees it work in one command."""
