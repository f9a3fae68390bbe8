"""The living-HTA loop's question: did this month's evidence change the
decision?  `decision_of` reads what matters at the chosen WTP out of a
POST /analysis answer; `compare` sets it against the previous run's.

* the optimal strategy at the WTP (the CEAC's frontier there: the highest
  expected net benefit) — a change of it is a change of decision;
* the ICER of each strategy on the cost-effectiveness frontier (non-
  dominated), and which strategies are on it — an ICER that moved by more
  than `icer_threshold` (relative), or a strategy joining or leaving;
* the probability that each strategy is cost-effective at the WTP — moved
  by more than `probability_threshold` (absolute).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

UNCHANGED, CHANGED, DECISION_CHANGED, FIRST_RUN = (
    "unchanged", "changed", "decision changed", "first run")


@dataclass(frozen=True)
class Thresholds:
    icer: float = 0.05         # relative change of a frontier ICER
    probability: float = 0.05  # absolute change of a probability of being cost-effective

    def as_dict(self) -> dict[str, float]:
        return {"icer_relative": self.icer, "probability_absolute": self.probability}


def decision_of(analysis: dict, wtp: float) -> dict[str, Any]:
    at_wtp = [row for row in analysis["ceac"] if row["WTP"] == wtp]
    if not at_wtp:
        raise ValueError(f"the analysis has no CEAC at WTP {wtp:g}: send it in the wtp grid")
    return {
        "wtp": wtp,
        "optimal": next(row["Strategy"] for row in at_wtp if row["On_Frontier"]),
        "probability_cost_effective": {row["Strategy"]: row["Proportion"] for row in at_wtp},
        # The reference (cheapest non-dominated) strategy has no ICER: null.
        "frontier_icers": {row["Strategy"]: row["ICER"]
                           for row in analysis["icers"] if row["Status"] == "ND"},
    }


def compare(before: dict, after: dict, thresholds: Thresholds) -> dict[str, Any]:
    """What moved between two `decision_of`s, each change with its message."""
    changes = []
    if before["wtp"] != after["wtp"]:
        changes.append(_change("wtp", None, before["wtp"], after["wtp"],
                               f"the WTP changed from {before['wtp']:g} to {after['wtp']:g}: "
                               "the runs are not comparable"))
    if before["optimal"] != after["optimal"]:
        changes.append(_change(
            "optimal", None, before["optimal"], after["optimal"],
            f"the optimal strategy at {after['wtp']:,.0f} per QALY changed from "
            f"{before['optimal']} to {after['optimal']}"))
    old_icers, new_icers = before["frontier_icers"], after["frontier_icers"]
    for strategy in sorted(set(old_icers) | set(new_icers)):
        if strategy not in new_icers:
            changes.append(_change("frontier", strategy, True, False,
                                   f"{strategy} left the cost-effectiveness frontier"))
        elif strategy not in old_icers:
            changes.append(_change("frontier", strategy, False, True,
                                   f"{strategy} joined the cost-effectiveness frontier"))
        else:
            old, new = old_icers[strategy], new_icers[strategy]
            if (old is None) != (new is None):
                changes.append(_change("icer", strategy, old, new,
                                       f"{strategy}'s ICER changed from {_money(old)} to "
                                       f"{_money(new)} (the frontier's reference changed)"))
            elif old is not None and abs(new - old) > thresholds.icer * abs(old):
                changes.append(_change(
                    "icer", strategy, old, new,
                    f"{strategy}'s ICER moved from {_money(old)} to {_money(new)} "
                    f"({(new - old) / abs(old):+.1%}; threshold ±{thresholds.icer:.0%})"))
    old_p, new_p = before["probability_cost_effective"], after["probability_cost_effective"]
    for strategy in sorted(set(old_p) & set(new_p)):
        if abs(new_p[strategy] - old_p[strategy]) > thresholds.probability:
            changes.append(_change(
                "probability", strategy, old_p[strategy], new_p[strategy],
                f"the probability that {strategy} is cost-effective at {after['wtp']:,.0f} "
                f"moved from {old_p[strategy]:.3f} to {new_p[strategy]:.3f} "
                f"(threshold ±{thresholds.probability:.3f})"))
    decision_changed = any(c["what"] in ("optimal", "wtp") for c in changes)
    status = DECISION_CHANGED if decision_changed else CHANGED if changes else UNCHANGED
    return {"status": status, "decision_changed": decision_changed, "changes": changes,
            "thresholds": thresholds.as_dict()}


def _change(what: str, strategy: str | None, before: Any, after: Any, message: str) -> dict:
    return {"what": what, "strategy": strategy, "before": before, "after": after,
            "message": message}


def _money(value: float | None) -> str:
    return "none" if value is None else f"{value:,.0f}"


def value_of_information(analysis: dict, wtp: float, ranking: list[dict]) -> dict[str, Any]:
    """At `wtp`: the EVPI and each requested EVPPI group, per person and (when
    the analysis had a population) for the population, and every parameter's
    EVPPI alone, largest first."""
    def at(rows):
        return next((row for row in rows if row["WTP"] == wtp), None)

    evpi = at(analysis["evpi"]) or {}
    groups = []
    for group in analysis.get("evppi", []):
        value = at(group["values"])
        if value is not None:
            groups.append({"parameters": group["parameters"], "per_person": value["EVPPI"],
                           "population": value.get("Population_EVPPI")})
    return {
        "wtp": wtp,
        "method": analysis["method"].get("evppi_method"),
        "population": analysis["method"].get("population"),
        "evpi": {"per_person": evpi.get("EVPI"), "population": evpi.get("Population_EVPI")},
        "evppi": groups,
        "ranking": sorted(({"parameter": r["parameter"], "per_person": r["EVPPI"]}
                           for r in ranking), key=lambda r: -r["per_person"]),
    }


def describe_input(row: dict | None) -> str:
    if row is None:
        return "absent"
    values = ", ".join(f"{v:g}" for v in (row["v1"], row.get("v2")) if v is not None)
    return f"{row['distribution']}({values})"


def compare_inputs(before: list[dict] | None, after: list[dict]) -> list[dict]:
    """Which editable parameters' distributions differ from the previous
    run's (a previous summary without inputs: none can be said)."""
    if before is None:
        return []
    old = {row["parameter"]: row for row in before}
    new = {row["parameter"]: row for row in after}
    found = []
    for name in [*new, *(n for n in old if n not in new)]:
        a, b = old.get(name), new.get(name)
        key = lambda r: None if r is None else (r["distribution"], r["v1"], r.get("v2"))  # noqa: E731
        if key(a) != key(b):
            found.append({"parameter": name, "before": a, "after": b,
                          "message": f"{name}: {describe_input(a)} → {describe_input(b)}"})
    return found
