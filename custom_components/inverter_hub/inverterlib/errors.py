"""Errors raised by the library; each carries a translation key for the UI."""

from __future__ import annotations


class InverterError(Exception):
    """Base of every library error."""

    translation_key = "inverter_error"

    def __init__(self, message: str, **placeholders: str) -> None:
        """Keep the message and the values a translated text needs."""
        super().__init__(message)
        self.placeholders = {"detail": message, **placeholders}

    @property
    def code(self) -> str:
        """Return the neutral code of this error (a relay's error reply carries it)."""
        return self.translation_key


class LinkError(InverterError):
    """The link could not be opened, or broke, or the device stayed silent."""

    translation_key = "link_error"


class LinkTimeoutError(LinkError):
    """The device did not answer in time."""

    translation_key = "link_timeout"


class FrameError(InverterError):
    """A reply failed its checksum or framing and was rejected whole."""

    translation_key = "frame_error"


class DeviceRefusedError(InverterError):
    """The device answered with a refusal (NAK, Modbus exception, Studer error)."""

    translation_key = "device_refused"


class UnsupportedError(InverterError):
    """The device or link does not support what was asked."""

    translation_key = "unsupported"


class ValidationError(InverterError):
    """A value does not fit its point; nothing was sent."""

    translation_key = "invalid_value"


class UnknownPointError(ValidationError):
    """No point of that key exists on the device."""

    translation_key = "unknown_point"


class ExpertModeRequiredError(ValidationError):
    """An expert-only point or command was used with expert mode off."""

    translation_key = "expert_mode_required"


class UnknownDeviceError(ValidationError):
    """No device of that serial number is on the link."""

    translation_key = "unknown_device"


class NotWritableError(ValidationError):
    """The point is a reading and cannot be written."""

    translation_key = "not_writable"


class ReadBackMismatchError(InverterError):
    """The device accepted a write but reads back another value."""

    translation_key = "read_back_mismatch"


class ProfileError(InverterError):
    """A device profile file is invalid."""

    translation_key = "profile_error"
