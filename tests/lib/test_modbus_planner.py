"""The read planner is exact: never worse than an exhaustive search, and always legal."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings, strategies as st
from inverterlib.modbus.client import read_rules
from inverterlib.modbus.planner import (
    MBAP_COST,
    NETWORK_BYTES_PER_SECOND,
    RTU_COST,
    Block,
    CostModel,
    ReadRules,
    Span,
    UnreadableSpanError,
    one_read_per_span,
    plan_reads,
)
from inverterlib.modbus.profile import Access
from inverterlib.modbus.registry import ProfileRegistry
from inverterlib.model import PollGroup
import pytest

from benchmarks.modbus import optimal_cover

# RS-485 at 9600 8N1 carries 960 bytes a second: an SDM's 50 ms gap is 48 bytes, a Growatt's
# 850 ms gap 816 bytes.
SDM_RTU = RTU_COST.with_gap(0.05, 960)
GROWATT_RTU = RTU_COST.with_gap(0.85, 960)


def partitions(items: list[Span]) -> Iterator[list[list[Span]]]:
    """Yield every way to split `items` into non-empty groups (Bell-number many)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in partitions(rest):
        yield [[first], *partition]
        for index in range(len(partition)):
            yield [*partition[:index], [first, *partition[index]], *partition[index + 1 :]]


def exhaustive_best(spans: list[Span], rules: ReadRules, cost: CostModel) -> int | None:
    """Return the cheapest cost over every grouping of spans into reads; None if none is legal."""
    best: int | None = None
    for partition in partitions(sorted(set(spans))):
        blocks = []
        for group in partition:
            block = rules.block(min(s.address for s in group), max(s.end for s in group))
            if block is None:
                break
            blocks.append(block)
        else:
            total = cost.total(blocks)
            best = total if best is None else min(best, total)
    return best


def test_a_nested_span_widens_the_read() -> None:
    spans = [Span(5, 1), Span(4, 4)]
    assert plan_reads(spans, ReadRules(), RTU_COST) == [Block(4, 4)]
    assert plan_reads([Span(5, 1), Span(0, 2), Span(4, 4)], ReadRules(), RTU_COST) == [Block(0, 8)]


def assert_valid(blocks: list[Block], spans: list[Span], rules: ReadRules) -> None:
    for block in blocks:
        assert 1 <= block.count <= rules.max_registers
        if rules.even_alignment:
            assert block.address % 2 == 0
            assert block.count % 2 == 0
        assert not any(block.address < barrier < block.end for barrier in rules.barriers)
    for span in spans:
        assert any(block.covers(span) for block in blocks), span


# Spans both sparse (gaps to merge or not) and dense (overlapping, nested, duplicated).
span_lists = st.one_of(
    st.lists(st.builds(Span, st.integers(0, 40), st.integers(1, 4)), max_size=7),
    st.lists(st.builds(Span, st.integers(0, 12), st.integers(1, 6)), max_size=7),
)
rule_sets = st.builds(
    ReadRules,
    max_registers=st.integers(1, 24),
    even_alignment=st.booleans(),
    barriers=st.lists(st.integers(0, 44), max_size=3).map(lambda b: tuple(sorted(set(b)))),
)
costs = st.sampled_from(
    [
        RTU_COST,
        MBAP_COST,
        CostModel(request_bytes=1, reply_bytes=0),
        SDM_RTU,
        CostModel(request_bytes=1, reply_bytes=0, gap_bytes=9),
        MBAP_COST.with_gap(0.0001, NETWORK_BYTES_PER_SECOND),
    ]
)


@settings(max_examples=400, deadline=None)
@given(spans=span_lists, rules=rule_sets, cost=costs)
def test_plan_is_optimal_and_legal(spans: list[Span], rules: ReadRules, cost: CostModel) -> None:
    best = exhaustive_best(spans, rules, cost)
    if best is None:
        with pytest.raises(UnreadableSpanError):
            plan_reads(spans, rules, cost)
        return
    blocks = plan_reads(spans, rules, cost)
    assert_valid(blocks, spans, rules)
    assert cost.total(blocks) == best


@settings(max_examples=200, deadline=None)
@given(spans=span_lists, rules=rule_sets)
def test_plan_never_costs_more_than_one_read_per_value(spans: list[Span], rules: ReadRules) -> None:
    try:
        naive = one_read_per_span(spans, rules)
    except UnreadableSpanError:
        return
    blocks = plan_reads(spans, rules, RTU_COST)
    assert_valid(blocks, spans, rules)
    assert RTU_COST.total(blocks) <= RTU_COST.total(naive)
    assert len(blocks) <= len(naive)


def test_gaps_are_merged_only_when_cheaper() -> None:
    rules = ReadRules()
    # RTU: a new request costs 13 bytes, a register 2: gaps up to 6 registers are read through.
    assert plan_reads([Span(0, 2), Span(8, 2)], rules, RTU_COST) == [Block(0, 10)]
    assert plan_reads([Span(0, 2), Span(9, 2)], rules, RTU_COST) == [Block(0, 2), Block(9, 2)]
    # MBAP: 21 bytes of overhead, so gaps up to 10 registers are read through.
    assert plan_reads([Span(0, 2), Span(12, 2)], rules, MBAP_COST) == [Block(0, 14)]
    assert plan_reads([Span(0, 2), Span(13, 2)], rules, MBAP_COST) == [Block(0, 2), Block(13, 2)]


def test_the_gap_makes_reading_through_holes_worth_it() -> None:
    rules = ReadRules()
    # RTU with a 48-byte gap: a new request costs 13 + 48 bytes, so 30-register holes are read.
    assert plan_reads([Span(0, 2), Span(32, 2)], rules, SDM_RTU) == [Block(0, 34)]
    assert plan_reads([Span(0, 2), Span(33, 2)], rules, SDM_RTU) == [Block(0, 2), Block(33, 2)]
    # Without the gap the same hole is two reads.
    assert len(plan_reads([Span(0, 2), Span(32, 2)], rules, RTU_COST)) == 2
    # On a network every gap outweighs the largest hole a read can span.
    network = MBAP_COST.with_gap(0.05, NETWORK_BYTES_PER_SECOND)
    assert plan_reads([Span(0, 1), Span(124, 1)], rules, network) == [Block(0, 125)]


def test_gap_cost() -> None:
    assert GROWATT_RTU.gap_bytes == 816
    assert SDM_RTU.cost(Block(0, 10)) == 8 + 5 + 20 + 48
    assert MBAP_COST.with_gap(0.05, NETWORK_BYTES_PER_SECOND).gap_bytes == 50_000
    assert RTU_COST.with_gap(0, 960) is RTU_COST
    assert SDM_RTU.with_gap(0.05, 960) is SDM_RTU
    assert SDM_RTU.with_gap(0, 960) == RTU_COST
    assert SDM_RTU.total([Block(0, 2), Block(8, 2)]) == 2 * (13 + 4 + 48)
    with pytest.raises(ValueError, match="cannot cost a gap"):
        RTU_COST.with_gap(-1, 960)
    with pytest.raises(ValueError, match="cannot cost a gap"):
        RTU_COST.with_gap(0.05, 0)


@pytest.mark.parametrize(
    ("profile_id", "blocks"),
    [("growatt_min", [(3000, 3125)]), ("growatt_tlxh", [(3000, 3125), (3125, 3250)])],
)
def test_growatt_live_values_come_in_one_read_per_register_block(
    profile_id: str, blocks: list[tuple[int, int]]
) -> None:
    """With 850 ms between commands, a hole of any length is cheaper than another request."""
    profile = ProfileRegistry.load().get(profile_id)
    rules = read_rules(profile, Access.INPUT)
    spans = [
        Span(rp.register.address, rp.register.count)
        for rp in profile.points
        if rp.point.group is PollGroup.LIVE and rp.register.access is Access.INPUT
    ]
    plan = plan_reads(spans, rules, GROWATT_RTU)
    assert len(plan) == len(blocks)
    for block, (low, high) in zip(plan, blocks, strict=True):
        assert low <= block.address
        assert block.end <= high
    assert_valid(plan, spans, rules)
    # Counting bytes alone, the same values take more requests.
    assert len(plan_reads(spans, rules, RTU_COST)) > len(blocks)


def test_limits_alignment_and_barriers_split_reads() -> None:
    spans = [Span(address, 2) for address in range(0, 10, 2)]
    limited = plan_reads(spans, ReadRules(max_registers=4), RTU_COST)
    assert len(limited) == 3
    assert sum(block.count for block in limited) == 10
    assert_valid(limited, spans, ReadRules(max_registers=4))
    assert plan_reads([Span(3, 1)], ReadRules(even_alignment=True), RTU_COST) == [Block(2, 2)]
    assert plan_reads(spans, ReadRules(barriers=(4,)), RTU_COST) == [Block(0, 4), Block(4, 6)]
    assert plan_reads([], ReadRules(), RTU_COST) == []


def test_duplicate_and_nested_spans_are_read_once() -> None:
    spans = [Span(10, 2), Span(10, 2), Span(10, 1), Span(11, 1)]
    assert plan_reads(spans, ReadRules(), RTU_COST) == [Block(10, 2)]


def test_unreadable_spans_are_reported() -> None:
    with pytest.raises(UnreadableSpanError, match=r"registers 0\.\.2 cannot be read"):
        plan_reads([Span(0, 3)], ReadRules(max_registers=2), RTU_COST)
    with pytest.raises(UnreadableSpanError, match="unreadable"):
        one_read_per_span([Span(1, 2)], ReadRules(barriers=(2,)))


def test_cost_model() -> None:
    assert RTU_COST.cost(Block(0, 10)) == 8 + 5 + 20
    assert MBAP_COST.cost(Block(0, 10)) == 12 + 9 + 20
    assert Block(4, 2).end == 6
    assert Span(4, 2).end == 6


@settings(max_examples=300, deadline=None)
@given(spans=span_lists, rules=rule_sets, cost=costs)
def test_the_benchmarks_independent_optimum_agrees(
    spans: list[Span], rules: ReadRules, cost: CostModel
) -> None:
    best = exhaustive_best(spans, rules, cost)
    if best is None:
        with pytest.raises(ValueError, match="no legal cover"):
            optimal_cover(spans, rules, cost)
        return
    blocks = optimal_cover(spans, rules, cost)
    assert_valid(blocks, spans, rules)
    assert cost.total(blocks) == best
