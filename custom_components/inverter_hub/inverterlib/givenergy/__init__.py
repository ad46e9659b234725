"""The GivEnergy family: the dongle's framing around Modbus, with register profiles as data."""
