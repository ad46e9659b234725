"""Device simulators that speak real bytes over real ptys, sockets and HID report pipes."""
