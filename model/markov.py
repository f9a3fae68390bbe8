"""The Sick-Sicker cohort Markov model, vectorised over PSA samples.

States, in this order everywhere: H (healthy), S1 (sick), S2 (sicker),
D (dead).  Annual cycles, 75 of them, the whole cohort starts in H.  Costs
and QALYs are discounted at 3 % a year with weights 1/1.03**t; cycle 0
accrues nothing (the original has no half-cycle correction and does not
count the starting state).

The transition matrix is sparse and block triangular (H and S1 exchange,
S1 feeds S2, everything feeds D, D absorbs), so the trace is advanced with a
few element-wise products over all samples at once rather than a dense 4×4
matrix product per sample per cycle.  Strategies No_Treatment and
Treatment_A share one transition matrix and Treatment_B has its own, so
only two cohort traces are computed; each strategy's costs and QALYs are
then its state values weighted by the discounted time spent in each state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .errors import InvalidTransitionMatrixError, SamplesError

STATES = ("H", "S1", "S2", "D")
STRATEGIES = ("No_Treatment", "Treatment_A", "Treatment_B")
RESULT_COLUMNS = tuple(f"C_{s}" for s in STRATEGIES) + tuple(f"E_{s}" for s in STRATEGIES)

# The original's base case.  A PSA sample overrides exactly these names and
# nothing else; every other column of a samples table is ignored (see
# `base_case_arrays`).  Units: probabilities and rates per annual cycle,
# costs in currency units per cycle, utilities in QALYs per cycle.
BASE_CASE: dict[str, float] = {
    "p_HS1": 0.15,  # H -> S1
    "p_S1H": 0.5,  # S1 -> H
    "p_S1S2": 0.105,  # S1 -> S2
    "r_HD": 0.002,  # background mortality rate
    "hr_S1D": 3.0,  # hazard ratio of death in S1 vs H
    "hr_S2D": 10.0,  # hazard ratio of death in S2 vs H
    "hr_S1S2_trtB": 0.6,  # treatment B's hazard ratio on S1 -> S2
    "c_H": 2000.0,
    "c_S1": 4000.0,
    "c_S2": 15000.0,
    "c_D": 0.0,
    "c_trtA": 12000.0,
    "c_trtB": 13000.0,
    "u_H": 1.0,
    "u_S1": 0.75,
    "u_S2": 0.5,
    "u_D": 0.0,
    "u_trtA": 0.95,
}
N_CYCLES = 75
DISCOUNT_RATE = 0.03  # costs and QALYs alike
START_STATE = (1.0, 0.0, 0.0, 0.0)
# Base-case names of the original that are settings of the run, not
# parameters: the vectorised model cannot vary them per sample.
FIXED_SETTINGS = ("n_cycles", "r_disc", "v_s_init")

# The nonzero entries of the transition matrix, in the original's row-major
# order, with the parameters each is computed from (for error messages).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "H->H": ("p_HS1", "r_HD"),
    "H->S1": ("p_HS1", "r_HD"),
    "H->D": ("r_HD",),
    "S1->H": ("p_S1H", "hr_S1D", "r_HD"),
    "S1->S1": ("p_S1H", "p_S1S2", "hr_S1D", "r_HD"),
    "S1->S2": ("p_S1S2", "hr_S1D", "r_HD"),
    "S1->D": ("hr_S1D", "r_HD"),
    "S2->S2": ("hr_S2D", "r_HD"),
    "S2->D": ("hr_S2D", "r_HD"),
}


def base_case_arrays(columns: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """Every BASE_CASE parameter as an array of the `n` samples: the
    sample's column where `columns` has one, else the base-case value."""
    check_samples(n, columns)
    values = {}
    for name, base in BASE_CASE.items():
        if name not in columns:
            values[name] = np.full(n, base)
            continue
        numbers = np.asarray(columns[name], dtype=float)
        if numbers.shape != (n,):
            raise SamplesError(f"column {name!r} has {numbers.size} values, expected {n}")
        bad = ~np.isfinite(numbers)
        if bad.any():
            row = int(bad.argmax())
            raise SamplesError.not_finite(row + 1, name, numbers[row].item())
        values[name] = numbers
    return values


def check_samples(n: int, names: Iterable[str]) -> None:
    """Raise if there are no samples, or if they vary a setting of the run."""
    if n == 0:
        raise SamplesError("the samples table has no rows")
    settings = [c for c in FIXED_SETTINGS if c in names]
    if settings:
        raise SamplesError(
            f"column(s) {', '.join(settings)} cannot vary per sample: the model runs "
            f"{N_CYCLES} annual cycles from H, discounted at {DISCOUNT_RATE:.0%}"
        )


def transition_probabilities(
    p_HS1, p_S1H, p_S1S2, r_HD, hr_S1D, hr_S2D
) -> dict[str, np.ndarray]:
    """The nonzero entries of the transition matrix (see TRANSITIONS).

    Rates become probabilities as 1 − exp(−rate); death in S1 and S2 applies
    hazard ratios to the background rate.  Written entry by entry exactly as
    the original, so a probability > 1 shows up as a negative entry rather
    than being silently clipped.
    """
    p_HD = 1 - np.exp(-r_HD)
    p_S1D = 1 - np.exp(-hr_S1D * r_HD)
    p_S2D = 1 - np.exp(-hr_S2D * r_HD)
    return {
        "H->H": (1 - p_HD) * (1 - p_HS1),
        "H->S1": (1 - p_HD) * p_HS1,
        "H->D": p_HD,
        "S1->H": (1 - p_S1D) * p_S1H,
        "S1->S1": (1 - p_S1D) * (1 - (p_S1H + p_S1S2)),
        "S1->S2": (1 - p_S1D) * p_S1S2,
        "S1->D": p_S1D,
        "S2->S2": 1 - p_S2D,
        "S2->D": p_S2D,
    }


def treatment_b_progression(p_S1S2, hr_S1S2_trtB):
    """Treatment B scales the S1 -> S2 *rate* by its hazard ratio."""
    # p_S1S2 >= 1 gives NaN/-inf here; the matrix check reports it.
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - np.exp(np.log(1 - p_S1S2) * hr_S1S2_trtB)


def check_transition_probabilities(
    matrices: dict[str, dict[str, np.ndarray]], params: dict[str, np.ndarray]
) -> None:
    """Raise for the first sample (then strategy, then entry) whose matrix
    has an entry outside [0, 1], as the original checks each run."""
    first = None
    n_invalid = np.zeros(len(params["p_HS1"]), dtype=bool)
    for strategy, entries in matrices.items():
        for transition, p in entries.items():
            p = np.broadcast_to(p, n_invalid.shape)
            bad = ~((p >= 0) & (p <= 1))  # NaN is invalid too
            if not bad.any():
                continue
            n_invalid |= bad
            row = int(bad.argmax())
            if first is None or row < first[0]:
                first = (row, strategy, transition, float(p[row]))
    if first is None:
        return
    row, strategy, transition, probability = first
    names = TRANSITIONS[transition]
    if strategy == "Treatment_B" and transition in ("S1->S1", "S1->S2"):
        names = names + ("hr_S1S2_trtB",)
    raise InvalidTransitionMatrixError(
        sample=row + 1,
        strategy=strategy,
        transition=transition,
        probability=probability,
        values={name: float(params[name][row]) for name in names},
        n_invalid=int(n_invalid.sum()),
    )


def discount_weights(n_cycles: int = N_CYCLES, rate: float = DISCOUNT_RATE) -> np.ndarray:
    """Weights 1/(1+rate)**t for t = 0..n_cycles, with cycle 0's set to 0
    because the original accrues nothing in the starting cycle."""
    weights = 1 / (1 + rate) ** np.arange(n_cycles + 1)
    weights[0] = 0.0
    return weights


def discounted_state_time(
    entries: dict[str, np.ndarray],
    n_cycles: int = N_CYCLES,
    rate: float = DISCOUNT_RATE,
    start=START_STATE,
) -> np.ndarray:
    """Discounted cohort time in each state, shape (4, n): Σ_t w_t · m_t.

    The trace m_{t+1} = m_t · P is advanced for all samples at once using
    the matrix's structure: H and S1 feed each other, S1 and S2 feed S2,
    and D holds whatever is left (rows of P sum to 1), so only three
    element-wise updates per cycle are needed.
    """
    n = len(entries["H->H"])
    # from_H[j] / from_S1[j] / from_S2[j]: probability of moving into H, S1, S2.
    zeros = np.zeros(n)
    from_H = np.stack([entries["H->H"], entries["H->S1"], zeros])
    from_S1 = np.stack([entries["S1->H"], entries["S1->S1"], entries["S1->S2"]])
    s2_stay = entries["S2->S2"]
    trace = np.empty((n_cycles + 1, 3, n))
    trace[0] = np.asarray(start[:3], dtype=float)[:, None]
    scratch = np.empty((3, n))
    # Views made once, outside the loop: the loop is ~5 ufunc calls a cycle
    # and view creation would otherwise be a third of its cost.
    rows = list(trace)
    h, s1, s2 = ([row[i] for row in rows] for i in range(3))
    s2_scratch = scratch[2]
    for t in range(n_cycles):
        alive = rows[t + 1]
        np.multiply(h[t], from_H, out=alive)
        np.multiply(s1[t], from_S1, out=scratch)
        np.add(alive, scratch, out=alive)
        np.multiply(s2[t], s2_stay, out=s2_scratch)
        np.add(s2[t + 1], s2_scratch, out=s2[t + 1])
    weights = discount_weights(n_cycles, rate)
    # einsum, not tensordot: BLAS may round the same sample differently
    # depending on its position in the batch; identical samples must give
    # identical results.
    time_alive = np.einsum("t,tsn->sn", weights, trace)  # (3, n)
    time_dead = weights.sum() - time_alive.sum(axis=0)
    return np.vstack([time_alive, time_dead])


# Overflow and NaN in the arithmetic are not worth a RuntimeWarning on the
# server's stderr: the matrix check and the final finiteness check below turn
# them into a SamplesError or InvalidTransitionMatrixError naming the sample.
@np.errstate(over="ignore", invalid="ignore")
def evaluate_parameters(p: dict[str, np.ndarray]) -> np.ndarray:
    """The model itself, on every BASE_CASE parameter as an array."""
    standard = transition_probabilities(
        p["p_HS1"], p["p_S1H"], p["p_S1S2"], p["r_HD"], p["hr_S1D"], p["hr_S2D"]
    )
    treatment_b = transition_probabilities(
        p["p_HS1"],
        p["p_S1H"],
        treatment_b_progression(p["p_S1S2"], p["hr_S1S2_trtB"]),
        p["r_HD"],
        p["hr_S1D"],
        p["hr_S2D"],
    )
    # No_Treatment and Treatment_A share `standard`: checking it once covers both.
    check_transition_probabilities({"No_Treatment": standard, "Treatment_B": treatment_b}, p)
    n = len(p["p_HS1"])
    both = {k: np.concatenate([standard[k], treatment_b[k]]) for k in standard}
    time = discounted_state_time(both)
    t_std, t_b = time[:, :n], time[:, n:]

    def value(t, h, s1, s2, d):
        return t[0] * h + t[1] * s1 + t[2] * s2 + t[3] * d

    # QUIRK (reproduced on purpose): the original passes the S1 and S2 values
    # to its model function in the wrong order.  No_Treatment gets c_S2 as the
    # cost of S1 and c_S1 as the cost of S2, and every strategy gets u_S2 as
    # the utility of S1 and u_S1 as the utility of S2 (Treatment_A: u_trtA in
    # S1 and u_S1 in S2).  Treatment_A and Treatment_B add their treatment
    # cost to the S1/S2 costs in the right order.  With the base case this
    # gives No_Treatment a cost of 112005.36 (148620.93 without the swap).
    costs = {
        "No_Treatment": value(t_std, p["c_H"], p["c_S2"], p["c_S1"], p["c_D"]),
        "Treatment_A": value(
            t_std, p["c_H"], p["c_S1"] + p["c_trtA"], p["c_S2"] + p["c_trtA"], p["c_D"]
        ),
        "Treatment_B": value(
            t_b, p["c_H"], p["c_S1"] + p["c_trtB"], p["c_S2"] + p["c_trtB"], p["c_D"]
        ),
    }
    qalys = {
        "No_Treatment": value(t_std, p["u_H"], p["u_S2"], p["u_S1"], p["u_D"]),
        "Treatment_A": value(t_std, p["u_H"], p["u_trtA"], p["u_S1"], p["u_D"]),
        "Treatment_B": value(t_b, p["u_H"], p["u_S2"], p["u_S1"], p["u_D"]),
    }
    data = np.column_stack([costs[s] for s in STRATEGIES] + [qalys[s] for s in STRATEGIES])
    overflow = ~np.isfinite(data)
    if overflow.any():  # finite inputs near the float limit (e.g. a cost of 1e307)
        row, col = np.unravel_index(int(overflow.argmax()), data.shape)
        raise SamplesError(
            f"sample {row + 1}: {RESULT_COLUMNS[col]} is not a finite number; "
            "the sample's costs or utilities are too large"
        )
    return data
