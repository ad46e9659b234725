"""The round-trip benchmark helper, briefly, against the unpaced PI30 simulator."""

from __future__ import annotations

import pytest

from benchmarks.relay import measure_round_trips

from .conftest import Pi30Harness
from .relay_support import AMQP_URL, pi30_session, serial_of, writes

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_round_trips_over_both_buses(pi30: Pi30Harness) -> None:
    async with pi30_session(pi30) as (simulator, session):
        results = await measure_round_trips(
            session,
            serial_of(session),
            "max_charging_current",
            [20, 30],
            mqtt_url="mqtt://127.0.0.1:1883",
            amqp_url=AMQP_URL,
            count=6,
        )
    assert [result.bus for result in results] == ["mqtt", "amqp"]
    for result in results:
        assert result.count == 6
        assert 0 < result.device_p50 <= result.total_p50
        assert result.total_p50 <= result.total_p99
        assert result.relay_p50 <= result.relay_p99
    # Every command reached the device: the device time is part of every round trip.
    assert writes(simulator, "MCHGC") == 12
