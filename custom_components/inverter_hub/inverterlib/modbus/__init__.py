"""The Modbus family: profiles as data, an exact read planner, and a client over our links."""

from .client import ModbusClient
from .codec import RegisterType, WordOrder
from .loader import load_profile, parse_profile
from .planner import (
    MBAP_COST,
    NETWORK_BYTES_PER_SECOND,
    RTU_COST,
    Block,
    CostModel,
    ReadRules,
    Span,
    plan_reads,
)
from .profile import (
    Access,
    DerivedPoint,
    IdentifyRule,
    LinkRules,
    Profile,
    Register,
    RegisterPoint,
    WriteFunction,
)
from .registry import SHIPPED_PROFILES, ProfileRegistry

__all__ = [
    "MBAP_COST",
    "NETWORK_BYTES_PER_SECOND",
    "RTU_COST",
    "SHIPPED_PROFILES",
    "Access",
    "Block",
    "CostModel",
    "DerivedPoint",
    "IdentifyRule",
    "LinkRules",
    "ModbusClient",
    "Profile",
    "ProfileRegistry",
    "ReadRules",
    "Register",
    "RegisterPoint",
    "RegisterType",
    "Span",
    "WordOrder",
    "WriteFunction",
    "load_profile",
    "parse_profile",
    "plan_reads",
]
