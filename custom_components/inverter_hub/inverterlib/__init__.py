"""An asyncio library for home inverters: PI30, Modbus, GivEnergy and Studer Xcom."""
