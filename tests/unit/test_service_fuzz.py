"""A client can never cause a 500, nor a status the OpenAPI document does not
list: random arguments, bodies and headers."""

from __future__ import annotations

import json

import falcon
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.openapi import build_document
from service.settings import Settings
from tests.support.client import app_client

KEY = "fuzz-key"
NAMES = st.sampled_from(["param_updates", "model_functions", "path_to_psa_inputs", "seed", "x"])
PARAMETERS = st.sampled_from(["p_HS1", "p_S1H", "p_S1S2", "c_D", "u_H", "hr_S1S2_trtB", "zz"])
DISTRIBUTIONS = st.sampled_from(["beta", "gamma", "normal", "rlnorm", "random uniform", "fixed", "x"])
NUMBERS = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), st.none(),
                    st.text(max_size=3))
RECORD = st.fixed_dictionaries(
    {"parameter": st.one_of(PARAMETERS, st.integers()), "distribution": DISTRIBUTIONS},
    optional={"v1": NUMBERS, "v2": NUMBERS},
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=8,
)
UPDATES = st.one_of(st.lists(RECORD, max_size=4), JSON)
ARGUMENTS = st.dictionaries(
    NAMES,
    st.one_of(UPDATES, st.text(max_size=20), st.integers(min_value=-5, max_value=2**64)),
    max_size=4,
)


@st.composite
def requests(draw):
    arguments = draw(ARGUMENTS)
    how = draw(st.sampled_from(["json", "query", "form", "raw"]))
    headers = {"key": KEY,
               "Accept": draw(st.sampled_from(["*/*", "application/json", "text/csv", "text/html",
                                               "application/json;q=x", ",,", "a/b;c"]))}
    text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in arguments.items()}
    if how == "json":
        return {"json": arguments, "headers": headers}
    if how == "query":
        return {"params": text, "headers": headers}
    if how == "form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return {"body": falcon.to_query_str(text, prefix=False), "headers": headers}
    headers["Content-Type"] = draw(st.sampled_from(
        ["application/json", "multipart/form-data; boundary=b", "text/plain", "", "multipart/form-data"]))
    return {"body": draw(st.binary(max_size=200)), "headers": headers}


CLIENT = app_client(Settings(api_keys=(KEY,)))
DOCUMENTED = set(build_document()["paths"]["/runDARTHmodel"]["post"]["responses"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_no_request_causes_a_server_error(request):
    result = CLIENT.simulate_post("/runDARTHmodel", **request)
    assert result.status_code < 500, (request, result.text)
    assert str(result.status_code) in DOCUMENTED, (request, result.text)
    if result.status_code >= 400:
        assert isinstance(result.json["error"], str) and result.json["error"]
    else:
        assert result.status_code == 200
