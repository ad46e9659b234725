"""Numbers and text in 16-bit registers: the register types and word orders of a profile."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
import math
import struct


class RegisterType(StrEnum):
    """How a value is laid out in its registers."""

    U16 = "u16"
    S16 = "s16"
    U32 = "u32"
    S32 = "s32"
    F32 = "f32"
    ASCII = "ascii"

    @property
    def width(self) -> int:
        """Return how many registers a number of this type takes (ascii: given per point)."""
        return 1 if self in (RegisterType.U16, RegisterType.S16) else 2

    @property
    def integer(self) -> bool:
        """Return whether the type holds whole numbers."""
        return self not in (RegisterType.F32, RegisterType.ASCII)

    @property
    def signed(self) -> bool:
        """Return whether the type holds negative numbers."""
        return self in (RegisterType.S16, RegisterType.S32)

    @property
    def limits(self) -> tuple[int, int]:
        """Return the smallest and largest raw integer the type holds."""
        bits = 16 * self.width
        if self.signed:
            return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return 0, (1 << bits) - 1


class WordOrder(StrEnum):
    """Which 16-bit word of a 32-bit value comes first."""

    BIG = "big"
    LITTLE = "little"


_STRUCT = {
    RegisterType.U16: ">H",
    RegisterType.S16: ">h",
    RegisterType.U32: ">I",
    RegisterType.S32: ">i",
    RegisterType.F32: ">f",
}


def _words_to_bytes(registers: Sequence[int], order: WordOrder) -> bytes:
    words = list(registers) if order is WordOrder.BIG else list(reversed(registers))
    return b"".join(word.to_bytes(2, "big") for word in words)


def _bytes_to_words(data: bytes, order: WordOrder) -> list[int]:
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words if order is WordOrder.BIG else list(reversed(words))


def shortest_float32(value: float) -> float:
    """Return the shortest decimal that is the same float32 (229.899993... -> 229.9)."""
    if not math.isfinite(value):
        return value
    packed = struct.pack(">f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == packed:
            return candidate
    return value  # pragma: no cover - nine significant digits always round-trip a float32


def registers_to_number(
    registers: Sequence[int], kind: RegisterType, order: WordOrder = WordOrder.BIG
) -> int | float:
    """Return the raw number stored in `registers`."""
    if kind is RegisterType.ASCII:
        raise ValueError("ascii registers hold text, not a number")
    if len(registers) != kind.width:
        raise ValueError(f"{kind} needs {kind.width} registers, got {len(registers)}")
    number: int | float = struct.unpack(_STRUCT[kind], _words_to_bytes(registers, order))[0]
    if kind is RegisterType.F32:
        return shortest_float32(float(number))
    return number


def number_to_registers(
    value: int | float, kind: RegisterType, order: WordOrder = WordOrder.BIG
) -> list[int]:
    """Return the registers that store the raw number `value`."""
    if kind is RegisterType.ASCII:
        raise ValueError("ascii registers hold text, not a number")
    if kind.integer:
        low, high = kind.limits
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{value!r} does not fit {kind} ({low}..{high})")
    return _bytes_to_words(struct.pack(_STRUCT[kind], value), order)


def registers_to_text(registers: Sequence[int]) -> str:
    """Return the text of ASCII registers (two characters each, high byte first)."""
    data = b"".join(register.to_bytes(2, "big") for register in registers)
    # Devices pad with NULs or spaces, and some leave 0xFF in unused registers.
    return data.replace(b"\xff", b"").decode("latin-1").strip("\x00 ")


def text_to_registers(text: str, count: int) -> list[int]:
    """Return `count` registers holding `text`, padded with NULs."""
    data = text.encode("ascii")
    if len(data) > 2 * count:
        raise ValueError(f"{text!r} is longer than {2 * count} characters")
    data = data.ljust(2 * count, b"\x00")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
