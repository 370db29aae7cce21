"""The centre's GSM modem: SMS intake (units, citizens) and SMS to OPD phones."""
