"""The server's garbage-collector pauses during a run, from its `tenantry_gc_pause_seconds`.

A full collection stops every request of the process while it runs, so a p99 that jumps between
runs is read next to these: how many collections of each generation ran, how long in all, and
how many took longer than `LONG_SECONDS`.
"""

from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

SERIES = "tenantry_gc_pause_seconds"
LONG_SECONDS = 0.1  # a bucket bound of the histogram


@dataclass(frozen=True)
class Pauses:
    count: float
    seconds: float
    long: float  # pauses over LONG_SECONDS


Snapshot = dict[str, Pauses]  # by generation


def parse(text: str) -> Snapshot | None:
    """The histogram's totals per generation from a scrape; None when it has none."""
    count: dict[str, float] = {}
    seconds: dict[str, float] = {}
    short: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != SERIES:
            continue
        for sample in family.samples:
            generation = sample.labels.get("generation", "?")
            if sample.name == f"{SERIES}_count":
                count[generation] = sample.value
            elif sample.name == f"{SERIES}_sum":
                seconds[generation] = sample.value
            elif sample.name == f"{SERIES}_bucket" and float(sample.labels["le"]) == LONG_SECONDS:
                short[generation] = sample.value
    if not count:
        return None
    return {
        generation: Pauses(total, seconds.get(generation, 0.0), total - short.get(generation, 0.0))
        for generation, total in count.items()
    }


def describe(before: Snapshot, after: Snapshot) -> str:
    """What ran between two snapshots, e.g. `gen 0: 310 (41 ms), gen 2: 1 (612 ms, 1 > 100 ms)`."""
    parts = []
    for generation in sorted(after):
        earlier = before.get(generation, Pauses(0.0, 0.0, 0.0))
        now = after[generation]
        count = now.count - earlier.count
        if count <= 0:
            continue
        text = f"gen {generation}: {count:.0f} ({(now.seconds - earlier.seconds) * 1000:.0f} ms"
        long = now.long - earlier.long
        if long > 0:
            text += f", {long:.0f} over {LONG_SECONDS * 1000:.0f} ms"
        parts.append(text + ")")
    return "server garbage collections during the run: " + (", ".join(parts) or "none")
