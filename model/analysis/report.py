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
) -> dict[str, Any]:
    """Summary, ICER table with 95 % intervals, CEAC, expected loss, EVPI
    over `wtp`, and the EVPPI of each group in `evppi_groups` (lists of
    parameter names) over the same WTPs, each table as dampack's records."""
    wtp = psa.wtp(wtp)
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
                        for w, v in zip(wtp, evppi_values(psa, wtp, group, method, order))]}
            for group in groups
        ],
        "method": {
            "n_samples": psa.n_samples,
            "strategies": list(psa.strategies),
            "wtp": wtp.tolist(),
            "evppi_method": method,
            **({"poly_order": order} if method == "poly" else {}),
            "evppi_capped_at_evpi": True,
        },
    }
