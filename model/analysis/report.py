"""Every analysis of one PSA in one JSON-ready object: what ``POST
/analysis`` answers.  One PSA, one WTP grid: the numbers are mutually
consistent (the EVPI is the frontier strategy's expected loss, the CEAC
frontier is the ICER table's choice at each WTP)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .decision import ceac, evpi, expected_loss, summary
from .evppi import evppi_values
from .icers import calculate_icers_psa
from .psa import PSA


def analyse(
    psa: PSA,
    wtp,
    evppi_groups: Sequence[Sequence[str]] = (),
    method: str = "poly",
    order: int = 2,
    evppi_wtp=None,
) -> dict[str, Any]:
    """Summary, ICER table with 95 % intervals, CEAC, expected loss, EVPI
    over `wtp`, and the EVPPI of each group in `evppi_groups` (lists of
    parameter names) over `evppi_wtp` (default: `wtp`; EVPPI is the costly
    one, often wanted at a few thresholds only), each table as dampack's
    records."""
    wtp = psa.wtp(wtp)
    evppi_wtp = wtp if evppi_wtp is None else psa.wtp(evppi_wtp)
    groups = [list(group) for group in evppi_groups]
    return {
        "summary": summary(psa).to_records(),
        "icers": calculate_icers_psa(psa, uncertainty=True).to_records(),
        "ceac": ceac(psa, wtp).to_records(),
        "expected_loss": expected_loss(psa, wtp).to_records(),
        "evpi": evpi(psa, wtp).to_records(),
        "evppi": [
            {"parameters": group,
             "values": [{"WTP": float(w), "EVPPI": float(v)}
                        for w, v in zip(evppi_wtp, evppi_values(psa, evppi_wtp, group, method,
                                                                order))]}
            for group in groups
        ],
        "method": {
            "n_samples": psa.n_samples,
            "strategies": list(psa.strategies),
            "wtp": wtp.tolist(),
            "evppi_wtp": evppi_wtp.tolist(),
            "evppi_method": method,
            **({"poly_order": order} if method == "poly" else {}),
            "evppi_capped_at_evpi": True,
        },
    }
