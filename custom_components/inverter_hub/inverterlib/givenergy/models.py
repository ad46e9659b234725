"""Which GivEnergy inverter a device is, from its device type code and ARM firmware.

Facts (dewet22/givenergy-modbus `model/inverter.py`): the first hex digit of the device type
code in HR0 is the family (2 hybrid, 3 AC-coupled, 4 three-phase hybrid, 5 EMS, 6 three-phase
AC, 7 gateway, 8 All-in-One), the first two digits pick some variants (21 Polar, 41 commercial
All-in-One, 81 HV Gen 3, 82 All-in-One hybrid, 83 Gen 4), and a "20" hybrid's generation is
the hundreds digit of its ARM firmware in HR21 (3 Gen 3, 8 or 9 Gen 2, anything else Gen 1).
Ten charge and discharge slots (HR240-299) come with Gen 4, the HV Gen 3, the All-in-One, and
a Gen 3 on ARM firmware above 302 (dewet22 `model/manifest.py`, `has_extended_slots`).
Three-phase units (4, 6, 41, 82) are read through their own input banks from IR1000, the
EMS plant controller through IR2040 and the Gateway through IR1600-1859 (dewet22 `model/ems.py`,
`model/gateway.py`). Neither has LV packs on its bus: an EMS's batteries hang off the
inverters it manages, each behind its own dongle, and a Gateway's All-in-Ones report their
HV batteries through it (nothing answers at 0x32 in dewet22's Gateway capture). Meters are
still looked for: both captures show them on the bus (EMS 0x01 and 0x03, Gateway 0x01, 0x02).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnsupportedError

HYBRID = "givenergy_hybrid"
HYBRID_GEN1 = "givenergy_hybrid_gen1"
HYBRID_TEN_SLOTS = "givenergy_hybrid_gen3"
AC_COUPLED = "givenergy_ac"
ALL_IN_ONE = "givenergy_aio"
THREE_PHASE = "givenergy_three_phase"
EMS = "givenergy_ems"
GATEWAY = "givenergy_gateway"
# The last Gen 3 ARM firmware without the ten-slot bank.
GEN3_TWO_SLOT_FIRMWARE = 302


@dataclass(frozen=True, kw_only=True, slots=True)
class Model:
    """An inverter model: its name, its register profile, whether LV packs hang off it."""

    name: str
    profile: str
    battery_packs: bool = True


_HYBRID_GENERATIONS = {3: "Hybrid Gen 3", 8: "Hybrid Gen 2", 9: "Hybrid Gen 2"}
_VARIANTS = {
    "21": Model(name="Polar hybrid", profile=HYBRID),
    # HV batteries sit behind a BCU (0x70 + n), not at the LV pack addresses.
    "81": Model(name="Hybrid HV Gen 3", profile=HYBRID_TEN_SLOTS, battery_packs=False),
    "83": Model(name="Hybrid Gen 4", profile=HYBRID_TEN_SLOTS),
    # Three-phase register layout (dewet22 `THREE_PHASE_MODELS`), HV batteries.
    "41": Model(name="Commercial All-in-One", profile=THREE_PHASE, battery_packs=False),
    "82": Model(name="All-in-One hybrid", profile=THREE_PHASE, battery_packs=False),
}
_FAMILIES = {
    "2": Model(name="Hybrid", profile=HYBRID),
    "3": Model(name="AC-coupled", profile=AC_COUPLED),
    "4": Model(name="Three-phase hybrid", profile=THREE_PHASE, battery_packs=False),
    "5": Model(name="EMS plant controller", profile=EMS, battery_packs=False),
    "6": Model(name="Three-phase AC-coupled", profile=THREE_PHASE, battery_packs=False),
    "7": Model(name="Gateway", profile=GATEWAY, battery_packs=False),
    # The All-in-One's battery is an HV stack behind its own controller.
    "8": Model(name="All-in-One", profile=ALL_IN_ONE, battery_packs=False),
}


def detect(device_type_code: int, arm_firmware: int) -> Model:
    """Return the model of an inverter; raise UnsupportedError for one this library cannot read."""
    code = f"{device_type_code:04x}"
    if code[:2] == "20":
        generation = arm_firmware // 100
        name = _HYBRID_GENERATIONS.get(generation, "Hybrid Gen 1")
        if generation == 3 and arm_firmware > GEN3_TWO_SLOT_FIRMWARE:
            return Model(name=name, profile=HYBRID_TEN_SLOTS)
        return Model(name=name, profile=HYBRID_GEN1 if name.endswith("1") else HYBRID)
    model = _VARIANTS.get(code[:2]) or _FAMILIES.get(code[0])
    if model is None:
        raise UnsupportedError(f"GivEnergy device type {code} is unknown", model=code)
    return model
