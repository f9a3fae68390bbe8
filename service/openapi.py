"""The OpenAPI 3 document of the service: the real contract, every status
each operation can return, so that clients and fuzzers (schemathesis) can
rely on it.  Served at /openapi.json; tests check it against the app.  The
requests' arguments are not written here: their schemas come from their
declarations (service/contract.py), which the parser reads too."""

from __future__ import annotations

import model
from model.analysis import METHODS
from model.distributions import DISTRIBUTIONS
from model.metadata import RECORD_SCHEMA as UNITS_SCHEMA
from model.results import STREAM_ROWS

from .contract import DEFAULT_WTP, Arguments, Contract
from .errors import KEY_INVALID, KEY_MISSING
from .resources.info import PAPER
from .settings import (
    DEFAULT_AUTH_FAILURE_LIMIT,
    DEFAULT_AUTH_FAILURE_WINDOW,
    DEFAULT_MAX_SAMPLES,
    DEFAULT_REQUEST_TIMEOUT,
    LIMIT_REQUEST_LINE,
)


def _error(description: str, example: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "example": {"error": example},
            }
        },
    }


_NO_DATASET = _error("The data folder holds no dataset by the name path_to_psa_inputs gives",
                     "no dataset named 'x.csv' in the data folder")
_INVALID_RECORDS = _error(
    "param_updates is invalid whatever the dataset: more records than allowed, a record "
    "not of the ParamUpdates schema, v1/v2 out of their distribution's bounds, or a random "
    "uniform whose min is above its max. Detail fields (update, parameter) say where.",
    "param_updates record 1 (p_HS1): v1 must be a number, got 'a'",
)

_RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}

_RECEIPT_HEADERS = {
    "X-Run-Id": {"description": "Names this run's audit record", "required": True,
                 "schema": {"type": "string", "format": "uuid"}},
    "X-Service-Version": {"description": "The service's version", "required": True,
                          "schema": {"type": "string"}},
    "X-Image-Digest": {"description": "The container image's digest, where the deployment "
                                      "passes it in (IMAGE_DIGEST)", "schema": {"type": "string"}},
    "X-Dataset-SHA256": {"description": "SHA-256 of the parameter table's bytes",
                         "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
    "X-Seed": {"description": "The seed used: the client's, or the one drawn for it",
               "required": True, "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}},
}


def _forms(arguments: Arguments) -> dict:
    return {media: {"schema": arguments.form_schema()}
            for media in ("application/x-www-form-urlencoded", "multipart/form-data")}


# The query string holds the same arguments for the original's clients, but
# a document cannot say "in the query string or in the body, not both" (400),
# nor bound the URL's length (414): described in each operation, not listed.
def _query(arguments: Arguments) -> str:
    as_text = [a.name for a in arguments.arguments if a.type.form_schema() is None]
    return (
        "Arguments come in the body: a JSON object, or an urlencoded or multipart form "
        f"({', '.join(as_text[:-1])}{' and ' if len(as_text) > 1 else ''}{as_text[-1]} then "
        "as fields holding JSON text, not listed in the form "
        "schemas: OpenAPI 3.0 cannot describe JSON text so that tools send it as one field). "
        "For the original's clients the same arguments are also read from the query "
        "string, each argument once in the query string and body together (400 otherwise), "
        "and the URL within the request-line limit (414); they are not listed as query "
        "parameters because a document cannot say 'in the query or in the body, not both'. "
    )


def _table(columns: dict[str, dict]) -> dict:
    """A dampack table as JSON records: one object per row."""
    return {"type": "array", "items": {
        "type": "object", "required": list(columns), "additionalProperties": False,
        "properties": columns}}


_NUM = {"type": "number"}
_NA = {"type": "number", "nullable": True, "description": "null where dampack has NA"}
_TEXT = {"type": "string"}
_FLAG = {"type": "boolean"}
_SENSITIVITY_ROW = {"parameter": _TEXT, "strategy": _TEXT, "param_val": _NUM,
                    "outcome_val": _NUM}
_SENSITIVITY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "description": "dampack's owsa, owsa_tornado (plus avg, where the bars start), "
                   "owsa_opt_strat and twsa data (model/analysis/sensitivity.py)",
    "properties": {
        "owsa": {"type": "object", "additionalProperties": False,
                 "properties": {outcome: _table(_SENSITIVITY_ROW)
                                for outcome in ("nmb", "eff", "cost")}},
        "tornado": _table({"parameter": _TEXT, "param_val.low": _NUM, "outcome_val.low": _NUM,
                           "param_val.high": _NUM, "outcome_val.high": _NUM,
                           "abs_diff": _NUM, "rel_diff": _NUM, "avg": _NUM}),
        "opt_strat": _table({"parameter": _TEXT, "strategy": _TEXT, "pmin": _NUM,
                             "pmax": _NUM}),
        "twsa": {"type": "object", "required": ["parameters", "values"],
                 "additionalProperties": False,
                 "properties": {
                     "parameters": {"type": "array", "minItems": 2, "maxItems": 2,
                                    "items": _TEXT},
                     # Columns: the two parameters' names, strategy, outcome_val.
                     "values": {"type": "array", "items": {
                         "type": "object", "required": ["strategy", "outcome_val"],
                         "minProperties": 4, "maxProperties": 4,
                         "properties": {"strategy": _TEXT, "outcome_val": _NUM},
                         "additionalProperties": _NUM}}}},
    },
}


def _optional_column(columns: dict, optional: str) -> dict:
    """A dampack table whose last column is there only when asked for."""
    table = _table({**columns, optional: _NUM})
    table["items"]["required"] = list(columns)
    return table


_ANALYSIS_SCHEMA = {
    "type": "object",
    "required": ["summary", "icers", "ceac", "expected_loss", "evpi", "evppi", "method",
                 "provenance"],
    "additionalProperties": False,
    "properties": {
        "summary": _table({"Strategy": _TEXT, "meanCost": _NUM, "meanEffect": _NUM,
                           "sdCost": _NA, "sdEffect": _NA}),
        "icers": _table({
            "Strategy": _TEXT, "Cost": _NUM, "Lower_95_Cost": _NUM, "Upper_95_Cost": _NUM,
            "Effect": _NUM, "Lower_95_Effect": _NUM, "Upper_95_Effect": _NUM,
            "Inc_Cost": _NA, "Inc_Effect": _NA, "ICER": _NA,
            "Status": {"type": "string", "enum": ["ND", "ED", "D"]}}),
        "ceac": _table({"WTP": _NUM, "Strategy": _TEXT, "Proportion": _NUM,
                        "On_Frontier": _FLAG}),
        "expected_loss": _table({"WTP": _NUM, "Strategy": _TEXT, "Expected_Loss": _NUM,
                                 "On_Frontier": _FLAG}),
        "evpi": _optional_column({"WTP": _NUM, "EVPI": _NUM}, "Population_EVPI"),
        "evppi": {"type": "array", "items": {
            "type": "object", "required": ["parameters", "values"],
            "additionalProperties": False,
            "properties": {"parameters": {"type": "array", "items": _TEXT},
                           "values": _optional_column({"WTP": _NUM, "EVPPI": _NUM},
                                                      "Population_EVPPI")}}},
        "sensitivity": _SENSITIVITY_SCHEMA,
        "method": {
            "type": "object",
            "required": ["seed", "n_samples", "strategies", "wtp", "evppi_wtp", "evppi_method",
                         "evppi_capped_at_evpi", "dataset"],
            "additionalProperties": False,
            "properties": {
                "seed": {"type": "integer", "nullable": True,
                         "description": "the seed the PSA was drawn with: send it to repeat"},
                "n_samples": {"type": "integer"},
                "strategies": {"type": "array", "items": _TEXT},
                "wtp": {"type": "array", "items": _NUM},
                "evppi_wtp": {"type": "array", "items": _NUM},
                "evppi_method": {"type": "string", "enum": list(METHODS)},
                "poly_order": {"type": "integer"},
                "evppi_capped_at_evpi": _FLAG,
                "dataset": _TEXT,
                "units": UNITS_SCHEMA,
                "population": {
                    "type": "object", "additionalProperties": False,
                    "required": ["population", "horizon", "discount", "effective_population"],
                    "properties": {"population": _NUM, "horizon": {"type": "integer"},
                                   "discount": _NUM, "effective_population": _NUM}},
                "sensitivity": {
                    "type": "object", "additionalProperties": False,
                    "required": ["wtp", "points", "grid", "metamodel"],
                    "properties": {"wtp": _NUM, "points": {"type": "integer"},
                                   "grid": _TEXT, "metamodel": _TEXT,
                                   "owsa_parameters": {"type": "array", "items": _TEXT},
                                   "owsa_outcomes": {"type": "array", "items": _TEXT}}},
            },
        },
        "provenance": {"$ref": "#/components/schemas/Provenance"},
    },
}


def _analysis_operation(shared: dict, arguments: Arguments) -> dict:
    return {
        "operationId": "analysis",
        "summary": "Run the PSA and analyse it as dampack does",
        "description": _query(arguments) + (
            "Runs the PSA once (the arguments and defaults of /runDARTHmodel: the same "
            "results for the same seed) and returns its decision analyses, as the R package "
            "dampack computes them: summary, ICER table with dominance, extended dominance "
            "and 95 % intervals, cost-effectiveness acceptability curve with its frontier, "
            "expected loss and EVPI over the wtp values, and the EVPPI of each requested "
            "parameter group (computed here, on the samples the client never sees); with "
            "population, the population EVPI and EVPPI beside the per-person figures; with "
            "sensitivity, one- and two-way sensitivity from the PSA (dampack's owsa, "
            "owsa_tornado, owsa_opt_strat, twsa) under `sensitivity`. "
            "`method.seed` is the seed used. Rules this schema cannot state, besides "
            "/runDARTHmodel's: the wtp range form (400 if it has too many values or "
            "start > stop); "
            "which parameters' EVPPI is offered depends on the dataset and the service's "
            "settings, and whether an EVPPI can be computed on the samples drawn (e.g. a "
            "spline needs enough samples) (409, with detail); evppi JSON text in a form "
            "field must hold EvppiGroups (400 otherwise), population and sensitivity JSON "
            "text their schemas (400 otherwise)."
        ),
        "requestBody": {
            "required": False,
            "content": {
                "application/json": {
                    "schema": arguments.json_schema(),
                    "example": {
                        "param_updates": [
                            {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
                            {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70},
                        ],
                        "seed": 1,
                        "wtp": DEFAULT_WTP,
                        "evppi": [["p_HS1", "p_S1H"], "p_S1S2"],
                        "evppi_wtp": [80000, 100000, 120000],
                        "evppi_method": "gam",
                    },
                },
                **_forms(arguments),
            },
        },
        "responses": {
            "200": {
                "description": "The analyses, each table as dampack's columns (JSON records), "
                               "and the run's provenance receipt (also in the headers)",
                "headers": _RECEIPT_HEADERS,
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Analysis"}}},
            },
            "400": _error(
                "The request cannot be read: /runDARTHmodel's reasons, or a wtp, evppi, "
                "evppi_method, poly_order, population or sensitivity out of its bounds",
                "wtp: willingness-to-pay range '0:1000000:1' has 1000001 values; at most 201",
            ),
            "406": _error(
                "The Accept header does not allow application/json",
                "cannot answer in any type the Accept header lists ('text/csv'): ...",
            ),
            "404": _NO_DATASET,
            "409": _error(
                "The dataset or the settings refuse the request: as /runDARTHmodel's 409, "
                "or an EVPPI or sensitivity analysis not offered for a parameter, or one "
                "that cannot be computed on these samples (e.g. a spline from too few "
                "samples, or for more than 4 parameters; a sensitivity analysis of a "
                "parameter that takes one value). Detail fields say which. " + _OVER_BUDGET,
                "EVPPI of 'c_trtA' is not offered (evppi group 1): the data owner offers "
                "the EVPPI of the editable parameters and of those listed in the service's "
                "settings: p_HS1, p_S1H, ...",
            ),
            "422": _INVALID_RECORDS,
            **shared,
        },
    }


def _parameters_operation(shared: dict, arguments: Arguments) -> dict:
    row = {"type": "object", "required": ["parameter", "distribution", "v1", "v2"],
           "additionalProperties": False,
           "properties": {"parameter": _TEXT,
                          "distribution": {"type": "string", "enum": list(DISTRIBUTIONS)},
                          "v1": _NUM, "v2": dict(_NUM, nullable=True)}}
    return {
        "operationId": "parameters",
        "summary": "The dataset's editable parameters and their current distributions",
        "description": (
            "What a client may change with param_updates: each editable parameter of the "
            "dataset with its distribution, and the default updates a run without "
            "param_updates applies. The other parameters are the data owner's and are not "
            "listed; nor, for a key scoped to some parameters, are the editable ones it may "
            "not edit. The analyst's page (/) fills its table from this."
        ),
        "parameters": arguments.query_parameters(),
        "responses": {
            "200": {
                "description": "The editable parameters",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["dataset", "parameters", "default_updates", "distributions"],
                    "additionalProperties": False,
                    "properties": {
                        "dataset": _TEXT,
                        "parameters": {"type": "array", "items": row},
                        "default_updates": {"$ref": "#/components/schemas/ParamUpdates"},
                        "distributions": {
                            "type": "object",
                            "description": "each distribution's v1 (and v2) meaning",
                            "additionalProperties": {"type": "array", "items": _TEXT}},
                    },
                }}},
            },
            "400": _error("Unknown or repeated argument, or a refused dataset name (a URL, "
                          "a path)", "unknown argument 'x'; accepted: path_to_psa_inputs"),
            "404": _NO_DATASET,
            "409": _error("The dataset is not a valid parameter table",
                          "dataset 'x.csv' is not a valid parameter table; contact the data owner"),
            **{status: shared[status] for status in ("401", "403", "429", "500", "503")},
        },
    }


# The cost budget's answers (service/budget.py), for the operations that run the model.
_OVER_BUDGET = ("Or the settings refuse the request's size: its estimated peak memory is over "
                "what one worker may use, or its estimated time over the time budget (detail: "
                "limit, estimate_mib, estimate_seconds, limit_mib or limit_seconds).")
_HEAVY = ("Also for a run (/runDARTHmodel, /analysis) estimated heavy while its key already "
          "runs as many heavy requests at once as one key may on this server "
          "(HEAVY_REQUESTS_PER_KEY; detail: limit, retry_after)")


def _throttle_description(limit: int, window: float) -> str:
    if limit <= 0:
        return "The failed-key limit is switched off (AUTH_FAILURE_LIMIT=0). " + _HEAVY
    return (
        f"Too many wrong keys from this client address: after {limit} requests answered "
        f"403 within {window:g} s, every request from that address that needs a key is "
        "answered 429, whatever its key, until the oldest failure leaves the window "
        "(`Retry-After` says when, in seconds). Requests without a key (401) are not "
        "counted, a valid key clears the count, open endpoints are never limited, other "
        "addresses are not affected. Counted per worker process. " + _HEAVY
    )


def build_document(
    version: str = "1.0.0",
    auth_failure_limit: int = DEFAULT_AUTH_FAILURE_LIMIT,
    auth_failure_window: float = DEFAULT_AUTH_FAILURE_WINDOW,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    contract: Contract | None = None,
) -> dict:
    """The document; the limits are the running service's (they are quoted),
    the arguments' schemas its contract's (default: for `max_samples`)."""
    contract = contract or Contract.for_service(max_samples)
    return _document(version, auth_failure_limit, auth_failure_window, request_timeout,
                     max_samples, contract)


def _document(version: str, auth_failure_limit: int, auth_failure_window: float,
              request_timeout: float, max_samples: int, contract: Contract) -> dict:
    # What every keyed operation may answer, besides its own 200/400/404/406/409/422.
    shared = {
        "401": _error("No API key (the `key` header, or Authorization: Key or Bearer)",
                      KEY_MISSING),
        "403": _error(
            "The API key is not valid, or may not call this endpoint or edit these "
            "parameters (the message says what it may; detail: allowed_endpoints or "
            "allowed_parameters)", KEY_INVALID),
        "408": _error(
            "The body did not arrive within the time budget (REQUEST_TIMEOUT): a slow "
            "or stalled upload, or a body shorter than its Content-Length",
            "the request body did not arrive within the time this service allows (24 s): ...",
        ),
        "413": _error(
            "The body is over the configured limit",
            "request body is larger than this service accepts (1048576 bytes)",
        ),
        "415": _error(
            "The body is not JSON, an urlencoded or a multipart form",
            "unsupported media type 'text/plain': send application/json, ...",
        ),
        "500": _error(
            "A fault of the service (never of the request), logged; includes "
            "the leak guard refusing a result that would reveal parameters",
            "internal server error: the failure has been logged",
        ),
        "414": _error(
            f"The request line (path and query string) is over "
            f"{LIMIT_REQUEST_LINE} bytes: send long arguments in the body. "
            "Answered by the HTTP server (gunicorn) before the service "
            "sees the request",
            f"URI Too Long: Request Line is too large (5000 > {LIMIT_REQUEST_LINE})",
        ),
        "429": dict(
            _error(
                _throttle_description(auth_failure_limit, auth_failure_window),
                "too many requests with a wrong API key from this address "
                "(10 within 60 s): try again in 42 s with a valid key",
            ),
            headers={"Retry-After": _RETRY_AFTER},
        ),
        "503": dict(
            _error(
                f"The request took longer than the service allows "
                f"({request_timeout:g} s, REQUEST_TIMEOUT) and was stopped; "
                "the worker goes on serving",
                f"the request took longer than this service allows "
                f"({request_timeout:g} s) and was stopped; ...",
            ),
            headers={"Retry-After": _RETRY_AFTER},
        ),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "living-hta: the DARTH Sick-Sicker PSA",
            "version": version,
            "description": (
                "Runs the Sick-Sicker cohort model's probabilistic sensitivity analysis "
                "(1000 samples by default, three strategies) on the client's data, with the "
                "consultant's updates to the editable parameters, and analyses it as the R "
                "package dampack does (ICERs, CEAC, expected loss, EVPI, EVPPI). Every error is JSON "
                '`{"error": "what to fix", ...detail}`. Send the API key in the `key` header, '
                "or as `Authorization: Key <key>` or `Authorization: Bearer <key>` (both: the "
                "same key). A key may be limited to some endpoints and parameters (403 says "
                "what it may do). Every result carries a provenance receipt in its `X-*` "
                "headers (and /analysis in its `provenance` object); the run id names its "
                "record in the service's audit log. "
                "Swagger UI: /__docs__/. The analysts' page: /."
            ),
        },
        "security": [{"apiKey": []}, {"authorization": []}],
        "paths": {
            "/runDARTHmodel": {
                "post": {
                    "operationId": "runDARTHmodel",
                    "summary": "Run the DARTH model",
                    "description": (
                        _query(contract.run_model) + "Returns the "
                        "n_samples x 6 results (1000 x 6 by default) as CSV, or as JSON "
                        "records when the Accept header ranks application/json above "
                        f"text/csv; more than {STREAM_ROWS} rows are streamed (chunked). "
                        "Rules this schema cannot state: which datasets exist is the data "
                        "folder's business, not this "
                        "public document's (a name it does not hold: 404); which "
                        "parameters are editable, and which distribution values give valid "
                        "transition probabilities and finite results, depend on the dataset "
                        "(409, with detail); random uniform needs v1 (min) <= v2 (max), a "
                        "rule across two fields (422); JSON text sent in a form field must "
                        "hold the ParamUpdates records (400 or 422 otherwise)."
                    ),
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": contract.run_model.json_schema(),
                                "example": {
                                    "param_updates": [
                                        {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
                                        {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70},
                                    ],
                                    "seed": 1,
                                },
                            },
                            **_forms(contract.run_model),
                        },
                    },
                    "responses": {
                        "200": {
                            "description": (
                                "The PSA results: one row per sample. The headers are the "
                                "run's provenance receipt: with X-Seed and the same updates "
                                "and dataset, a later call returns the same numbers"
                            ),
                            "headers": _RECEIPT_HEADERS,
                            "content": {
                                "text/csv": {
                                    "schema": {"type": "string"},
                                    "example": ",".join(model.RESULT_COLUMNS) + "\n112005.36,...\n",
                                },
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Result"},
                                    }
                                },
                            },
                        },
                        "400": _error(
                            "The request cannot be read: malformed JSON, unknown or repeated "
                            "argument, bad seed, n_samples not a whole number from 1 to the "
                            f"maximum ({max_samples} here), refused model_functions or "
                            "path_to_psa_inputs (a URL, a path), a body that cannot be read, a "
                            "key header and "
                            "Authorization that differ",
                            "model_functions 'https://example.org/x.R' refused: remote model "
                            "code is not executed. ...",
                        ),
                        "406": _error(
                            "The Accept header allows neither text/csv nor application/json",
                            "cannot answer in any type the Accept header lists ('text/html'): ...",
                        ),
                        "404": _NO_DATASET,
                        "409": _error(
                            "The dataset refuses the updates: unknown or non-editable "
                            "parameter, invalid transition matrix, sampled values or results "
                            "that are not finite, unusable dataset. Detail fields (parameter, "
                            "editable, sample, ...) say where. " + _OVER_BUDGET,
                            "parameter 'hr_S1S2_trtB' is not editable: This value is not "
                            "editable, please contact the data owner",
                        ),
                        "422": _INVALID_RECORDS,
                        **shared,
                    },
                }
            },
            "/analysis": {"post": _analysis_operation(shared, contract.analysis)},
            "/parameters": {"get": _parameters_operation(shared, contract.parameters)},
            "/paper": {
                "get": {
                    "operationId": "paper",
                    "summary": "Return the paper link",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The paper describing the approach",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"type": "string"}},
                                    "example": PAPER,
                                }
                            },
                        }
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness check for containers and load balancers",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The service is up",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["status"],
                                        "properties": {"status": {"type": "string", "enum": ["ok"]}},
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "key"},
                "authorization": {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "`Key <key>` (RStudio Connect's scheme) or `Bearer <key>`",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string", "description": "What to fix"}},
                    "additionalProperties": True,
                },
                **contract.components(),
                "Analysis": _ANALYSIS_SCHEMA,
                "Provenance": {
                    "type": "object",
                    "description": "The run's receipt (service/runs.py), as in the X-* headers",
                    "required": ["run_id", "service_version", "image_digest", "dataset_sha256",
                                 "seed"],
                    "additionalProperties": False,
                    "properties": {
                        "run_id": {"type": "string", "format": "uuid"},
                        "service_version": _TEXT,
                        "image_digest": {"type": "string", "nullable": True},
                        "dataset_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                        "seed": {"type": "integer", "nullable": True},
                    },
                },
                "Result": {
                    "type": "object",
                    "required": list(model.RESULT_COLUMNS),
                    "additionalProperties": False,
                    "properties": {c: {"type": "number"} for c in model.RESULT_COLUMNS},
                },
            },
        },
    }
