"""SCOM error codes and the library errors they become."""

from __future__ import annotations

from enum import IntEnum

from ..errors import DeviceRefusedError, InverterError, LinkTimeoutError, UnsupportedError


class ScomError(IntEnum):
    """The error codes an Xcom puts in an error reply."""

    INVALID_FRAME = 0x0001
    DEVICE_NOT_FOUND = 0x0002
    RESPONSE_TIMEOUT = 0x0003
    SERVICE_NOT_SUPPORTED = 0x0011
    INVALID_SERVICE_ARGUMENT = 0x0012
    GATEWAY_BUSY = 0x0013
    TYPE_NOT_SUPPORTED = 0x0021
    OBJECT_ID_NOT_FOUND = 0x0022
    PROPERTY_NOT_SUPPORTED = 0x0023
    INVALID_DATA_LENGTH = 0x0024
    PROPERTY_IS_READ_ONLY = 0x0025
    INVALID_DATA = 0x0026
    DATA_TOO_SMALL = 0x0027
    DATA_TOO_BIG = 0x0028
    WRITE_PROPERTY_FAILED = 0x0029
    READ_PROPERTY_FAILED = 0x002A
    ACCESS_DENIED = 0x002B
    OBJECT_NOT_SUPPORTED = 0x002C
    MULTICAST_READ_NOT_SUPPORTED = 0x002D
    OBJECT_PROPERTY_INVALID = 0x002E
    FILE_OR_DIR_NOT_PRESENT = 0x002F
    FILE_CORRUPTED = 0x0030
    INVALID_SHELL_ARG = 0x0081


def error_name(code: int) -> str:
    """Return the name of an error code (its hex value if unknown)."""
    try:
        return ScomError(code).name
    except ValueError:
        return f"0x{code:04x}"


# What the Xcom says when it does not know an object, property or service at all.
_UNSUPPORTED = frozenset(
    {
        ScomError.SERVICE_NOT_SUPPORTED,
        ScomError.TYPE_NOT_SUPPORTED,
        ScomError.OBJECT_ID_NOT_FOUND,
        ScomError.PROPERTY_NOT_SUPPORTED,
        ScomError.OBJECT_NOT_SUPPORTED,
        ScomError.OBJECT_PROPERTY_INVALID,
    }
)


class XcomRefusedError(DeviceRefusedError):
    """The Xcom answered a request with an error code."""

    def __init__(self, message: str, code: int, address: int) -> None:
        """Keep the code and the address the request went to."""
        super().__init__(message, code=error_name(code), address=str(address))
        self.scom_code = code
        self.address = address


class XcomUnsupportedError(UnsupportedError):
    """The Xcom or the device does not know the object, property or service asked."""

    def __init__(self, message: str, code: int, address: int) -> None:
        """Keep the code and the address the request went to."""
        super().__init__(message, code=error_name(code), address=str(address))
        self.scom_code = code
        self.address = address


class UnitUnreachableError(LinkTimeoutError):
    """One unit behind the Xcom did not answer; the Xcom and the other units still do."""

    def __init__(self, message: str, address: int) -> None:
        """Keep the address of the silent unit."""
        super().__init__(message, address=str(address))
        self.address = address


class GatewayBusyError(XcomRefusedError):
    """The Xcom stayed busy through every retry."""


def refusal(code: int, address: int, what: str) -> InverterError:
    """Return the library error an error reply to `what` at `address` becomes."""
    message = f"{what} at address {address}: {error_name(code)}"
    if code in (ScomError.DEVICE_NOT_FOUND, ScomError.RESPONSE_TIMEOUT):
        return UnitUnreachableError(message, address)
    if code == ScomError.GATEWAY_BUSY:
        return GatewayBusyError(message, code, address)
    if code in _UNSUPPORTED:
        return XcomUnsupportedError(message, code, address)
    return XcomRefusedError(message, code, address)
