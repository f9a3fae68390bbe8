"""Every analysis of one PSA in one JSON-ready object: what ``POST
/analysis`` answers.  One PSA, one WTP grid: the numbers are mutually
consistent (the EVPI is the frontier strategy's expected loss, the CEAC
frontier is the ICER table's choice at each WTP)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..metadata import DEFAULTS, Metadata
from .decision import ceac, evpi, expected_loss, summary
from .evppi import evppi_values
from .icers import calculate_icers_psa
from .population import Population
from .psa import PSA, AnalysisError
from .sensitivity import (
    DEFAULT_POINTS,
    OUTCOMES,
    one_way_outcomes,
    optimal_strategies,
    tornado,
    twsa,
)

EVERY = "*"


def analyse(
    psa: PSA,
    wtp,
    evppi_groups: Sequence[Sequence[str]] = (),
    method: str = "poly",
    order: int = 2,
    evppi_wtp=None,
    population: Population | None = None,
    sensitivity: dict[str, Any] | None = None,
    units: Metadata | None = None,
) -> dict[str, Any]:
    """Summary, ICER table with 95 % intervals, CEAC, expected loss, EVPI
    over `wtp`, and the EVPPI of each group in `evppi_groups` (lists of
    parameter names) over `evppi_wtp` (default: `wtp`; EVPPI is the costly
    one, often wanted at a few thresholds only), each table as dampack's
    records.

    With `population`, each EVPI and EVPPI record also has the population
    figure (Population_EVPI, Population_EVPPI) beside the per-person one.
    With `sensitivity` (the arguments of `sensitivity_analyses`: wtp, owsa,
    twsa_pair, points), its answer under "sensitivity" and what was done in
    method.sensitivity.

    `units` (the dataset's metadata, model/metadata.py; default: its
    documented defaults) goes into
    method.units, for whoever shows the figures; without `population`, the
    dataset's population defaults, when it has some, are used."""
    wtp = psa.wtp(wtp)
    units = DEFAULTS if units is None else units
    if population is None:
        population = units.default_population()
    evppi_wtp = wtp if evppi_wtp is None else psa.wtp(evppi_wtp)
    groups = [list(group) for group in evppi_groups]
    scale = None if population is None else population.effective

    def evppi_record(w, v):
        record = {"WTP": float(w), "EVPPI": float(v)}
        if scale is not None:
            record["Population_EVPPI"] = float(v) * scale
        return record

    evpi_records = evpi(psa, wtp).to_records()
    if scale is not None:
        for record in evpi_records:
            record["Population_EVPI"] = record["EVPI"] * scale
    answer = {
        "summary": summary(psa).to_records(),
        "icers": calculate_icers_psa(psa, uncertainty=True).to_records(),
        "ceac": ceac(psa, wtp).to_records(),
        "expected_loss": expected_loss(psa, wtp).to_records(),
        "evpi": evpi_records,
        "evppi": [
            {"parameters": group,
             "values": [evppi_record(w, v)
                        for w, v in zip(evppi_wtp, evppi_values(psa, evppi_wtp, group, method,
                                                                order))]}
            for group in groups
        ],
    }
    if sensitivity is not None:
        answer["sensitivity"] = sensitivity_analyses(psa, **sensitivity)
    answer["method"] = {
        "n_samples": psa.n_samples,
        "strategies": list(psa.strategies),
        "wtp": wtp.tolist(),
        "evppi_wtp": evppi_wtp.tolist(),
        "evppi_method": method,
        **({"poly_order": order} if method == "poly" else {}),
        "evppi_capped_at_evpi": True,
        "units": units.to_record(),
        **({"population": population.to_record()} if population is not None else {}),
        **({"sensitivity": answer["sensitivity"].pop("method")}
           if sensitivity is not None else {}),
    }
    return answer


def sensitivity_analyses(
    psa: PSA,
    wtp,
    owsa: Sequence[str] | str | None = EVERY,
    twsa_pair: Sequence[str] | None = None,
    points: int = DEFAULT_POINTS,
    outcomes: Sequence[str] = ("nmb",),
) -> dict[str, Any]:
    """At willingness to pay `wtp` (one value): with `owsa` (parameter
    names, or "*" for every parameter of the PSA that varies) the one-way
    analyses of the `outcomes` (nmb, eff, cost) and the tornado and
    optimal-strategy data of the nmb one; with `twsa_pair` the two-way
    analysis (nmb) of that pair; each as dampack's records, and "method":
    what was done."""
    if wtp is None:
        raise AnalysisError("sensitivity analyses need a willingness to pay (one value)")
    checked = psa.wtp(wtp)
    if checked.size != 1:
        raise AnalysisError(f"sensitivity analyses take one willingness to pay, got {checked.size}")
    wtp = float(checked[0])
    result: dict[str, Any] = {}
    method: dict[str, Any] = {
        "wtp": wtp,
        "points": points,
        "grid": "from the 2.5 % to the 97.5 % quantile of each parameter's samples",
        "metamodel": "least squares on each parameter's polynomial of order 2 (two-way: "
                     "the tensor product of the pair's), as dampack's owsa and twsa",
    }
    if owsa is not None and len(owsa) > 0:
        names = None if isinstance(owsa, str) and owsa == EVERY else list(owsa)
        unknown = [o for o in outcomes if o not in OUTCOMES]
        if unknown:
            raise AnalysisError(f"outcomes must be among {', '.join(OUTCOMES)}, got {unknown[0]!r}")
        one_ways = one_way_outcomes(psa, ["nmb", *outcomes], wtp, parameters=names,
                                    points=points)
        nmb = one_ways["nmb"]
        result["owsa"] = {outcome: one_ways[outcome].table().to_records()
                          for outcome in OUTCOMES if outcome in outcomes}
        result["tornado"] = tornado(nmb).to_records()
        result["opt_strat"] = optimal_strategies(nmb).to_records()
        method["owsa_parameters"] = list(nmb.parameters)
        method["owsa_outcomes"] = [o for o in OUTCOMES if o in outcomes]
    if twsa_pair is not None:
        pair = list(twsa_pair)
        result["twsa"] = {"parameters": pair,
                          "values": twsa(psa, pair, "nmb", wtp, points=points).to_records()}
    result["method"] = method
    return result
