"""The Sick-Sicker cohort Markov model, vectorised over PSA samples.

States, in this order everywhere: H (healthy), S1 (sick), S2 (sicker),
D (dead).  Annual cycles, 75 of them, the whole cohort starts in H.  Costs
and QALYs are discounted at 3 % a year with weights 1/1.03**t; cycle 0
accrues nothing (the original has no half-cycle correction and does not
count the starting state).

The transition matrix is block triangular (H and S1 exchange, S1 feeds S2,
everything feeds D, D absorbs) and the same every cycle, so the discounted
time in each state has a closed form in the eigenvalues of the H/S1 block
and S2's survival (`discounted_state_time`): no cohort trace is kept, and
memory grows with the samples only, evaluated CHUNK_SAMPLES at a time.
Strategies No_Treatment and Treatment_A share one transition matrix and
Treatment_B has its own, so two matrices are evaluated; each strategy's
costs and QALYs are then its state values weighted by the discounted time
spent in each state.
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
    """Every BASE_CASE parameter for the `n` samples: the sample's column
    (an array of `n`) where `columns` has one, else the base-case value (a
    0-d array: it broadcasts, and costs no memory per sample)."""
    check_samples(n, columns)
    values = {}
    for name, base in BASE_CASE.items():
        if name not in columns:
            values[name] = np.asarray(base)
            continue
        numbers = np.asarray(columns[name], dtype=float)
        if numbers.shape != (n,):
            raise SamplesError(f"column {name!r} has {numbers.size} values, expected {n}")
        # One reduction: NaN and ±inf make the sum non-finite (as may an
        # overflowing sum of finite values, which the exact check clears).
        if not np.isfinite(np.add.reduce(numbers)):
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


@np.errstate(over="ignore", invalid="ignore", divide="ignore")
def both_matrices(p: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    """The entries of both transition matrices (see TRANSITIONS) for `n`
    samples: S1->S1 and S1->S2 are (2, n), row 0 for the standard matrix
    (No_Treatment and Treatment_A share it), row 1 for Treatment_B's; the
    others are shared, and 0-d where computed from base-case values only."""
    progression = np.empty((2, n))
    progression[0] = p["p_S1S2"]
    progression[1] = treatment_b_progression(p["p_S1S2"], p["hr_S1S2_trtB"])
    return transition_probabilities(
        p["p_HS1"], p["p_S1H"], progression, p["r_HD"], p["hr_S1D"], p["hr_S2D"]
    )


def invalid_samples(entries: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Which of the `n` samples have an entry outside [0, 1] (NaN included)
    in either matrix; `entries` as `both_matrices` gives them."""
    invalid = np.zeros(n, dtype=bool)
    for p in entries.values():
        bad = ~((p >= 0) & (p <= 1))
        invalid |= bad if bad.ndim < 2 else bad.any(axis=0)
    return invalid


def check_transition_probabilities(
    matrices: dict[str, dict[str, np.ndarray]],
    params: Mapping[str, np.ndarray],
    n: int,
    first_sample: int = 1,
    n_invalid: int = 0,
) -> None:
    """Raise for the first sample (then strategy, then entry) whose matrix
    has an entry outside [0, 1], as the original checks each run.

    The `n` samples are numbered from `first_sample`; `n_invalid` counts
    invalid samples elsewhere (in later chunks), for the message."""
    first = None
    invalid = np.zeros(n, dtype=bool)
    for strategy, entries in matrices.items():
        for transition, p in entries.items():
            p = np.broadcast_to(p, invalid.shape)
            bad = ~((p >= 0) & (p <= 1))  # NaN is invalid too
            if not bad.any():
                continue
            invalid |= bad
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
        sample=first_sample + row,
        strategy=strategy,
        transition=transition,
        probability=probability,
        values={name: float(np.broadcast_to(params[name], (n,))[row]) for name in names},
        n_invalid=int(invalid.sum()) + n_invalid,
    )


def power_divided_differences(x, y, x_k, y_k, k: int) -> np.ndarray:
    """p[x, y] = (x**k − y**k) / (x − y) for p(u) = u**k (`x_k`, `y_k`: the
    powers), and its limit k·x**(k−1) where x == y; elementwise, to ~1e-14.

    The plain quotient loses the digits the two powers share, ~ 1/(k·|x − y|
    / |x|) of them: where that is over 64 (a few in a thousand here), with b the
    larger of the two in magnitude and o the other, b**k − o**k =
    −b**k · expm1(k · log1p((o − b) / b)) keeps the small difference exact
    (same signs: far apart in relative terms otherwise, and then plain).
    """
    gap = x - y
    with np.errstate(divide="ignore", invalid="ignore"):
        result = (x_k - y_k) / gap
    close = np.flatnonzero(64 * k * np.abs(gap) <= np.maximum(np.abs(x), np.abs(y)))
    if close.size:
        x, y = x.flat[close], y.flat[close]
        larger = np.abs(x) >= np.abs(y)
        b, o = np.where(larger, x, y), np.where(larger, y, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            exact = -(b**k) * np.expm1(k * np.log1p((o - b) / b)) / (b - o)
        result.flat[close] = np.where(b == o, k * b ** (k - 1), exact)
    return result


# Below this spread the three points of a second divided difference are
# treated as one: p''(m)/2 is then off by ~ k²·spread²/24 (< 1e-11 here).
_CONFLUENT = 1e-7


def second_divided_difference(u: np.ndarray, first: np.ndarray, k: int) -> np.ndarray:
    """p[u₀, u₁, u₂] for p(u) = u**k, from the first divided differences
    `first` = (p[u₀,u₁], p[u₀,u₂], p[u₁,u₂]), dividing by u₀ − u₁ (the
    eigenvalues of the H/S1 block, usually far apart) or, where that gap is
    small, by the widest of the three: never by a small gap of two close
    points, whose difference has lost its digits."""
    p01, p02, p12 = first
    gap = u[0] - u[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        result = (p02 - p12) / gap
    narrow = np.flatnonzero(64 * k * np.abs(gap) <= 1)
    if narrow.size:
        x, y, z = (v.flat[narrow] for v in u)
        pxy, pxz, pyz = (v.flat[narrow] for v in first)
        gaps = np.stack([x - y, y - z, x - z])
        with np.errstate(divide="ignore", invalid="ignore"):
            candidates = np.stack([pxz - pyz, pxy - pxz, pxy - pyz]) / gaps
        widest = np.abs(gaps).argmax(axis=0)[None]
        spread = np.take_along_axis(np.abs(gaps), widest, axis=0)[0]
        mean = (x + y + z) / 3
        result.flat[narrow] = np.where(
            spread < _CONFLUENT, k * (k - 1) / 2 * mean ** (k - 2),
            np.take_along_axis(candidates, widest, axis=0)[0],
        )
    return result


def discounted_state_time(a, b, c, d, f, e, n_cycles: int = N_CYCLES,
                          rate: float = DISCOUNT_RATE) -> np.ndarray:
    """Discounted cohort time in H, S1, S2 and D, shape (4, …): Σ_{t=1..T} wᵗ·mₜ
    for a cohort starting in H, in closed form — no trace is kept.

    The transition matrix restricted to the living states is
    P = [[a, b, 0], [c, d, f], [0, 0, e]] (rows H, S1, S2: a = H→H,
    b = H→S1, c = S1→H, d = S1→S1, f = S1→S2, e = S2→S2).  Its eigenvalues
    are those of the H/S1 block, λ₁ ≥ |λ₂| (real: the block is nonnegative),
    and e.  F(x) = Σ_{t=1..T} (w·x)ᵗ is a polynomial, so by Newton's
    interpolation on the eigenvalues F(P) = F[λ₁]·I + F[λ₁,λ₂]·(P − λ₁I) +
    F[λ₁,λ₂,e]·(P − λ₁I)(P − λ₂I), whose first row (start in H) is
    (F[λ₁] + (a − λ₁)·F[λ₁,λ₂], b·F[λ₁,λ₂], b·f·F[λ₁,λ₂,e]).  With
    u = w·x, F = u/(1 − u) − u^(T+1)/(1 − u), and the divided differences
    of both terms are closed forms in those of u^(T+1) (Leibniz's rule),
    which stay accurate when eigenvalues meet (S2's survival e often lies
    close to λ₁).  The arguments broadcast (one call serves both matrices)
    to a shape of at least one dimension.
    """
    w = 1 / (1 + rate)
    k = n_cycles + 1
    trace = a + d
    lambda1 = (trace + np.sqrt((a - d) ** 2 + 4 * b * c)) / 2
    u = w * np.stack(np.broadcast_arrays(lambda1, trace - lambda1, e))
    u_k = u**k
    pairs, others = [0, 0, 1], [1, 2, 2]  # (λ₁,λ₂), (λ₁,e), (λ₂,e)
    first = power_divided_differences(u[pairs], u[others], u_k[pairs], u_k[others], k)
    p123 = second_divided_difference(u, first, k)
    q = 1 / (1 - u)
    u1_k = u_k[0]
    f1 = (u[0] - u1_k) * q[0]  # F[λ₁]
    f12 = q[1] * (q[0] * (1 - u1_k) - first[0])  # F[λ₁,λ₂] / w
    f123 = q[2] * (f12 - p123)  # F[λ₁,λ₂,e] / w²
    time_h = f1 + (a - lambda1) * w * f12
    time_s1 = b * w * f12
    time_s2 = b * f * (w * w) * f123
    total = (w - w**k) / (1 - w)  # Σ_{t=1..T} wᵗ: every cycle is spent in some state
    return np.stack([time_h, time_s1, time_s2, total - time_h - time_s1 - time_s2])


# Samples evaluated at once: the temporaries (a few dozen arrays of two
# matrices' worth, ~2 MiB) stay in the CPU's caches, however many samples
# there are (1,000,000 samples: 0.5 s in chunks of 4096, 0.6 s in 32,768).
CHUNK_SAMPLES = 4096

# Which matrix each result column uses (0: the standard one, 1: Treatment_B's).
_MATRIX_OF_COLUMN = [0, 0, 1, 0, 0, 1]


# Overflow and NaN in the arithmetic are not worth a RuntimeWarning on the
# server's stderr: the matrix check and the final finiteness check below turn
# them into a SamplesError or InvalidTransitionMatrixError naming the sample.
@np.errstate(over="ignore", invalid="ignore")
def evaluate_chunk(p: Mapping[str, np.ndarray], n: int, first_sample: int = 1) -> np.ndarray:
    """The model itself on `n` samples: every BASE_CASE parameter as an
    array of `n` or a 0-d base-case value; returns (n, 6) results.
    Errors number the samples from `first_sample`."""
    entries = both_matrices(p, n)
    flat = np.concatenate([np.ravel(entry) for entry in entries.values()])
    if not (flat.min() >= 0 and flat.max() <= 1):  # NaN fails both
        by_strategy = {
            strategy: {t: entry[row] if np.ndim(entry) == 2 else entry
                       for t, entry in entries.items()}
            for strategy, row in (("No_Treatment", 0), ("Treatment_B", 1))
        }
        check_transition_probabilities(by_strategy, p, n, first_sample)
    time = discounted_state_time(
        entries["H->H"], entries["H->S1"], entries["S1->H"], entries["S1->S1"],
        entries["S1->S2"], entries["S2->S2"],
    )  # (state, matrix, sample)
    # QUIRK (reproduced on purpose): the original passes the S1 and S2 values
    # to its model function in the wrong order.  No_Treatment gets c_S2 as the
    # cost of S1 and c_S1 as the cost of S2, and every strategy gets u_S2 as
    # the utility of S1 and u_S1 as the utility of S2 (Treatment_A: u_trtA in
    # S1 and u_S1 in S2).  Treatment_A and Treatment_B add their treatment
    # cost to the S1/S2 costs in the right order.  With the base case this
    # gives No_Treatment a cost of 112005.36 (148620.93 without the swap).
    state_values = (  # per result column: the value of a cycle in H, S1, S2, D
        (p["c_H"], p["c_S2"], p["c_S1"], p["c_D"]),
        (p["c_H"], p["c_S1"] + p["c_trtA"], p["c_S2"] + p["c_trtA"], p["c_D"]),
        (p["c_H"], p["c_S1"] + p["c_trtB"], p["c_S2"] + p["c_trtB"], p["c_D"]),
        (p["u_H"], p["u_S2"], p["u_S1"], p["u_D"]),
        (p["u_H"], p["u_trtA"], p["u_S1"], p["u_D"]),
        (p["u_H"], p["u_S2"], p["u_S1"], p["u_D"]),
    )
    values = np.empty((len(RESULT_COLUMNS), 4, n))
    for column, state_value in enumerate(state_values):
        for state, value in enumerate(state_value):
            values[column, state] = value
    data = np.einsum("scn,csn->nc", time[:, _MATRIX_OF_COLUMN], values)
    overflow = ~np.isfinite(data)
    if overflow.any():  # finite inputs near the float limit (e.g. a cost of 1e307)
        row, col = np.unravel_index(int(overflow.argmax()), data.shape)
        raise SamplesError(
            f"sample {first_sample + row}: {RESULT_COLUMNS[col]} is not a finite number; "
            "the sample's costs or utilities are too large"
        )
    return data


def evaluate_parameters(p: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """`evaluate_chunk` over all `n` samples, CHUNK_SAMPLES at a time: memory
    beyond the (n, 6) results stays bounded however large n is."""
    data = np.empty((n, len(RESULT_COLUMNS)))
    chunks = [(start, min(start + CHUNK_SAMPLES, n)) for start in range(0, n, CHUNK_SAMPLES)]
    for index, (start, stop) in enumerate(chunks):
        try:
            data[start:stop] = evaluate_chunk(_rows(p, start, stop), stop - start, start + 1)
        except InvalidTransitionMatrixError as exc:
            # The message counts the invalid samples of the whole run.
            for begin, end in chunks[index + 1:]:
                entries = both_matrices(_rows(p, begin, end), end - begin)
                exc.n_invalid += int(invalid_samples(entries, end - begin).sum())
            exc.args = (exc.describe(),)
            raise
    return data


def _rows(p: Mapping[str, np.ndarray], start: int, stop: int) -> dict[str, np.ndarray]:
    """Samples start..stop-1 of `p` (views; base-case values as they are)."""
    return {name: v[start:stop] if v.ndim else v for name, v in p.items()}
