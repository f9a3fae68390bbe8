"""The OpenAPI 3 document of the service: the real contract, every status
each operation can return, so that clients and fuzzers (schemathesis) can
rely on it.  Served at /openapi.json; tests check it against the app."""

from __future__ import annotations

import model
from model.distributions import DISTRIBUTIONS

from .arguments import MAX_SEED, MAX_UPDATES, ORIGINAL_MODEL_URL
from .errors import KEY_INVALID, KEY_MISSING
from .resources.info import PAPER
from .settings import (
    DEFAULT_AUTH_FAILURE_LIMIT,
    DEFAULT_AUTH_FAILURE_WINDOW,
    DEFAULT_DATASET,
    DEFAULT_GUNICORN_TIMEOUT,
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


_RETRY_AFTER = {
    "description": "Seconds to wait before trying again",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}

_ARGUMENTS = {
    "param_updates": {
        "description": (
            "Replacement distributions for editable parameters. Leave out (or null) for the "
            "original's default updates (p_HS1 beta(25,150), p_S1H beta(50,70)); [] for none. "
            "In a JSON body: the records, or JSON text of them; in the query string or a form: "
            "JSON text (jsonlite::toJSON of a data frame writes it)."
        ),
    },
    "model_functions": {
        "description": (
            "Kept for the original's clients. Only the built-in model runs: leave out, or send "
            "the original's default URL (accepted as its name). Anything else is refused "
            "(400): remote model code is not executed."
        ),
    },
    "path_to_psa_inputs": {
        "description": (
            "Name of a parameter table in the service's data folder (no URL, absolute path "
            "or '..'). The pattern describes a file name; `sub/name.csv` names a table in a "
            "subfolder."
        ),
    },
    "seed": {"description": "Makes the run reproducible; without it every run draws fresh samples."},
}

_NOT_BLANK = r"\S"  # a JSON Schema pattern matches anywhere: at least one non-space

# A file name: no NUL, no separator, no scheme or drive colon, no '~', not
# blank and not only dots ('.', '..').  The service also takes sub/name.csv.
_DATASET_NAME = r"^[^\x00/\\:~]*[^\x00/\\:~\s.][^\x00/\\:~]*$"

_STRING_SCHEMAS = {
    "param_updates": {"type": "string", "pattern": _NOT_BLANK, "example": '[{"parameter":"p_HS1","distribution":"beta","v1":25,"v2":150}]'},
    "model_functions": {"type": "string", "enum": ["", ORIGINAL_MODEL_URL]},
    "path_to_psa_inputs": {"type": "string", "default": DEFAULT_DATASET, "pattern": _DATASET_NAME},
    "seed": {"type": "integer", "minimum": 0, "maximum": MAX_SEED},
}


def _query_parameter(name: str) -> dict:
    parameter = {
        "name": name,
        "in": "query",
        "required": False,
        "description": _ARGUMENTS[name]["description"],
    }
    if name == "param_updates":
        # JSON text in the query string: `content` says what the text holds.
        parameter["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ParamUpdates"}}}
    else:
        parameter["schema"] = _STRING_SCHEMAS[name]
    return parameter


def _form_schema() -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            name: dict(_STRING_SCHEMAS[name], description=_ARGUMENTS[name]["description"])
            for name in _ARGUMENTS
        },
    }


def _throttle_description(limit: int, window: float) -> str:
    if limit <= 0:
        return "Not sent: the failed-key limit is switched off (AUTH_FAILURE_LIMIT=0)"
    return (
        f"Too many wrong keys from this client address: after {limit} requests answered "
        f"403 within {window:g} s, every request from that address that needs a key is "
        "answered 429, whatever its key, until the oldest failure leaves the window "
        "(`Retry-After` says when, in seconds). Requests without a key (401) are not "
        "counted, a valid key clears the count, open endpoints are never limited, other "
        "addresses are not affected. Counted per worker process"
    )


def build_document(
    version: str = "1.0.0",
    auth_failure_limit: int = DEFAULT_AUTH_FAILURE_LIMIT,
    auth_failure_window: float = DEFAULT_AUTH_FAILURE_WINDOW,
    request_timeout: float = 0.8 * DEFAULT_GUNICORN_TIMEOUT,
) -> dict:
    """The document; the limits are the running service's (they are quoted)."""
    json_body = _form_schema()
    json_body["properties"]["param_updates"] = {
        "description": _ARGUMENTS["param_updates"]["description"],
        "nullable": True,
        "oneOf": [
            {"$ref": "#/components/schemas/ParamUpdates"},
            {"type": "string", "pattern": _NOT_BLANK, "description": "JSON text of the records"},
        ],
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "living-hta: the DARTH Sick-Sicker PSA",
            "version": version,
            "description": (
                "Runs the Sick-Sicker cohort model's probabilistic sensitivity analysis "
                "(1000 samples, three strategies) on the client's data, with the "
                "consultant's updates to the editable parameters. Every error is JSON "
                '`{"error": "what to fix", ...detail}`. Send the API key in the `key` header. '
                "Swagger UI: /__docs__/."
            ),
        },
        "security": [{"apiKey": []}],
        "paths": {
            "/runDARTHmodel": {
                "post": {
                    "operationId": "runDARTHmodel",
                    "summary": "Run the DARTH model",
                    "description": (
                        "Arguments may come in the query string or the body (JSON object, "
                        "urlencoded or multipart form), each at most once in all. Returns the "
                        "1000 x 6 results as CSV, or as JSON records when the Accept header "
                        "ranks application/json above text/csv. Rules this schema cannot "
                        "state: an argument in both the query string and the body is refused "
                        "(400); which datasets exist is the data folder's business, not this "
                        "public document's (an unknown name is refused, 400); which "
                        "parameters are editable, and which distribution values give valid "
                        "transition probabilities, depend on the dataset (422, with detail); "
                        "JSON text sent in a string (a form field, or a string in a JSON "
                        "body) must hold the ParamUpdates records (400 or 422 otherwise)."
                    ),
                    "parameters": [_query_parameter(name) for name in _ARGUMENTS],
                    "requestBody": {
                        "required": False,
                        "content": {
                            "application/json": {
                                "schema": json_body,
                                "example": {
                                    "param_updates": [
                                        {"parameter": "p_HS1", "distribution": "beta", "v1": 25, "v2": 150},
                                        {"parameter": "p_S1H", "distribution": "beta", "v1": 50, "v2": 70},
                                    ],
                                    "seed": 1,
                                },
                            },
                            "application/x-www-form-urlencoded": {"schema": _form_schema()},
                            "multipart/form-data": {"schema": _form_schema()},
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The PSA results: one row per sample",
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
                            "argument, bad seed, refused model_functions or path_to_psa_inputs",
                            "model_functions 'https://example.org/x.R' refused: remote model "
                            "code is not executed. ...",
                        ),
                        "401": _error("No API key in the `key` header", KEY_MISSING),
                        "403": _error("The API key is not valid", KEY_INVALID),
                        "406": _error(
                            "The Accept header allows neither text/csv nor application/json",
                            "cannot answer in any type the Accept header lists ('text/html'): ...",
                        ),
                        "413": _error(
                            "The body is over the configured limit",
                            "request body is larger than this service accepts (1048576 bytes)",
                        ),
                        "415": _error(
                            "The body is not JSON, an urlencoded or a multipart form",
                            "unsupported media type 'text/plain': send application/json, ...",
                        ),
                        "422": _error(
                            "The updates cannot be applied or run: unknown or non-editable "
                            "parameter, bad distribution, malformed records, invalid "
                            "transition matrix, overflowing results, unusable dataset. Detail "
                            "fields (parameter, editable, sample, ...) say where.",
                            "parameter 'hr_S1S2_trtB' is not editable: This value is not "
                            "editable, please contact the data owner",
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
                    },
                }
            },
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
                "apiKey": {"type": "apiKey", "in": "header", "name": "key"}
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string", "description": "What to fix"}},
                    "additionalProperties": True,
                },
                "ParamUpdate": {
                    "type": "object",
                    "required": ["parameter", "distribution", "v1"],
                    "properties": {
                        "parameter": {"type": "string", "example": "p_HS1"},
                        "distribution": {"type": "string", "enum": list(DISTRIBUTIONS)},
                        "v1": {"type": "number"},
                        "v2": {"type": "number", "nullable": True,
                               "description": "unused (null or left out) for 'fixed'"},
                    },
                },
                "ParamUpdates": {
                    "type": "array",
                    "maxItems": MAX_UPDATES,
                    "items": {"$ref": "#/components/schemas/ParamUpdate"},
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
