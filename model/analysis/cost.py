"""What a run and its analyses cost, from their arguments alone: the peak
memory of the process that runs them, and their time.

    estimate(100_000)                                     # a run (/runDARTHmodel)
    estimate(100_000, wtp_points=201, evppi_groups=[1])   # a run and its analyses
    # Cost(peak_bytes=…, seconds=…)

Memory is counted in doubles per PSA sample, array by array, as the code
allocates them, plus the few W × n arrays of a WTP chunk
(`psa.wtp_chunks`: each at most CHUNK_BYTES, however long the grid), on
top of an idle worker.  The constants are measured (bench/bench_cost.py:
peak RSS of each request shape in a fresh process, bench/RESULTS.md,
"Cost"): the estimate is an upper figure, never more than 10 % under the
measured peak (tests/unit/test_cost.py measures a few shapes again).

Time is a lower figure: about half what each analysis took at 100,000
samples on a quiet core of the reference machine (the fastest of three
in-process runs, `bench/bench_cost.py --timing`), so that every request
shape measured took longer (bench/RESULTS.md).  A request estimated over a
time budget will not finish within it; one estimated under it may still
not, on a busy machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .psa import CHUNK_BYTES
from .smoothers import GROUP_BASIS_SIZE, MAX_SPLINE_PARAMETERS, SINGLE_BASIS_SIZE

MIB = 1024 * 1024
DOUBLE = 8
# A worker with the app loaded, after its first requests (VmRSS).
IDLE_BYTES = 64 * MIB

# --- Memory: doubles per sample ----------------------------------------------------
# A run answered as it is (/runDARTHmodel): the samples' columns (one per
# parameter of the table), the n × 6 results, and their text.
RUN = 66
# A run kept for its analyses: samples, results, the PSA's own copies of
# costs and effects, the ICER table's quantiles.
ANALYSIS = 36
# Each sampled parameter the analyses get (EVPPI groups, sensitivity): its
# column in the PSA, and the checks' temporaries.
PER_PARAMETER = 2
# W × n arrays alive at once in a WTP chunk: the decision analyses' (each
# sample's best net benefit, which strategy, one strategy's, the counts'
# index), and EVPPI's (the fitted targets of each strategy, their maximum).
DECISION_CHUNK_ARRAYS = 4
EVPPI_CHUNK_ARRAYS = 7
# EVPPI by polynomial of m = group size × order columns (g parameters): the
# design, its centred copy and the SVD's copy, workspace and basis.
POLY_PER_COLUMN = 1.5
POLY_PER_COLUMN_SQUARED = 0.1
POLY_PER_PARAMETER = 2.5
# EVPPI by spline of q basis columns: the margins, the tensor product and
# the centred design.
SPLINE_PER_COLUMN = 1.3
# One-way sensitivity: the outcomes' columns and the per-parameter fits;
# two-way: the tensor design and its least squares.
OWSA = 4
OWSA_PER_OUTCOME = 6
TWSA = 12

# --- Time: seconds per unit of work (about half the fastest measured) ---------------
RUN_SECONDS = 6.5e-7  # per sample: draw and evaluate
ANALYSIS_SECONDS = 7.5e-7  # per sample: the run, the PSA, summary and ICERs
WTP_SECONDS = 1.4e-8  # per sample and WTP value: CEAC, expected loss, EVPI
POLY_SECONDS = 9e-8  # per sample and design column: the polynomial's basis
SPLINE_SECONDS = 4e-8  # per sample and basis column: the spline's design
EVPPI_WTP_SECONDS = 1.4e-8  # per sample, WTP value and group: the targets' fits
SPLINE_WTP_SECONDS = 1.5e-9  # per sample, WTP value and spline column: GCV's search
OWSA_SECONDS = 6e-8  # per sample and parameter (all outcomes at once)
TWSA_SECONDS = 2.25e-7  # per sample


@dataclass(frozen=True)
class Cost:
    """A request's estimated peak memory (bytes, the whole process) and time."""

    peak_bytes: int
    seconds: float

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / MIB


def spline_columns(group_size: int) -> int:
    """The spline EVPPI's basis columns for a group (smoothers.SplineSmoother):
    s(p) with 10 functions less its constraint; for more parameters the
    margins (k − 1 each) and their tensor product.  A larger group than the
    spline takes is refused by the analysis itself, with its own reason:
    it costs what the largest does until then."""
    if group_size == 1:
        return SINGLE_BASIS_SIZE - 1
    size = min(group_size, MAX_SPLINE_PARAMETERS)
    margin = GROUP_BASIS_SIZE - 1
    return size * margin + margin**size


def chunk_bytes(n_samples: int, wtp_points: int) -> int:
    """One W × n array of a WTP chunk (psa.wtp_chunks)."""
    rows = max(1, CHUNK_BYTES // (DOUBLE * n_samples))
    return min(rows, wtp_points) * n_samples * DOUBLE


def estimate(
    n_samples: int,
    wtp_points: int = 0,
    evppi_wtp_points: int | None = None,
    evppi_groups: Sequence[int] = (),
    method: str = "poly",
    order: int = 2,
    parameters: int = 0,
    owsa_parameters: int = 0,
    owsa_outcomes: int = 0,
    twsa: bool = False,
) -> Cost:
    """The cost of a run of `n_samples` and, with `wtp_points` > 0, its
    analyses (analysis.report.analyse): `evppi_groups` the size of each
    EVPPI group, by `method` (poly of `order`, or gam) over
    `evppi_wtp_points` (default: `wtp_points`); `parameters` the sampled
    parameters the analyses get; one-way sensitivity of `owsa_parameters`
    for `owsa_outcomes` outcomes (besides nmb), and `twsa` a two-way one."""
    n = n_samples
    if wtp_points <= 0:
        return Cost(IDLE_BYTES + n * RUN * DOUBLE, n * RUN_SECONDS)
    evppi_points = wtp_points if evppi_wtp_points is None else evppi_wtp_points
    phases = [0.0]  # doubles per sample beyond the analyses' own, phase by phase
    seconds = n * (ANALYSIS_SECONDS + wtp_points * WTP_SECONDS)
    for size in evppi_groups:
        if method == "poly":
            m = size * order
            phases.append(POLY_PER_COLUMN * m + POLY_PER_COLUMN_SQUARED * m * m
                          + POLY_PER_PARAMETER * size)
            seconds += n * POLY_SECONDS * m
        else:
            q = spline_columns(size)
            phases.append(SPLINE_PER_COLUMN * q)
            seconds += n * q * (SPLINE_SECONDS + evppi_points * SPLINE_WTP_SECONDS)
        seconds += n * evppi_points * EVPPI_WTP_SECONDS
    if owsa_parameters:
        phases.append(OWSA + owsa_parameters + OWSA_PER_OUTCOME * (1 + owsa_outcomes))
        seconds += n * OWSA_SECONDS * owsa_parameters
    if twsa:
        phases.append(OWSA + TWSA)
        seconds += n * TWSA_SECONDS
    per_sample = ANALYSIS + PER_PARAMETER * parameters + max(phases)
    chunks = max(DECISION_CHUNK_ARRAYS * chunk_bytes(n, wtp_points),
                 EVPPI_CHUNK_ARRAYS * chunk_bytes(n, evppi_points) if evppi_groups else 0)
    return Cost(int(IDLE_BYTES + n * per_sample * DOUBLE + chunks), seconds)
