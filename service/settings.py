"""The service's settings, read from the environment in one place.

| variable        | meaning                                               | default |
|-----------------|-------------------------------------------------------|---------|
| `API_KEYS`      | comma-separated API keys                              | —       |
| `API_KEY_FILE`  | a file with one key per line (`#` comments allowed)   | —       |
| `DATA_DIR`      | folder of the parameter tables clients may name       | the `model` package's data folder |
| `MAX_BODY_BYTES`| largest request body accepted (413 above it)          | 1048576 |

At least one key must be configured (from either source, or both): the
service refuses to start without one rather than fall back to a default, as
the original's hard-coded key did.  Keys never appear in a repr or a log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import model

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_DATASET = "parameter_distributions.csv"


class SettingsError(Exception):
    """The environment does not describe a service that can start."""


@dataclass(frozen=True)
class Settings:
    api_keys: tuple[str, ...] = field(repr=False)
    data_dir: Path = field(default_factory=lambda: Path(model.default_table_path()).parent)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    default_dataset: str = DEFAULT_DATASET

    def __post_init__(self):
        if not self.api_keys:
            raise SettingsError(
                "no API key configured: set API_KEYS (comma-separated) or API_KEY_FILE "
                "(one key per line)"
            )
        if not self.data_dir.is_dir():
            raise SettingsError(f"DATA_DIR {str(self.data_dir)!r} is not a directory")
        if self.max_body_bytes < 1:
            raise SettingsError(f"MAX_BODY_BYTES must be >= 1, got {self.max_body_bytes}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        keys = _split_keys(env.get("API_KEYS", "").split(","))
        key_file = env.get("API_KEY_FILE", "").strip()
        if key_file:
            try:
                lines = Path(key_file).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(
                    f"API_KEY_FILE {key_file!r} cannot be read: {exc.__class__.__name__}"
                ) from None
            keys += _split_keys(line for line in lines if not line.lstrip().startswith("#"))
        options = {"api_keys": tuple(dict.fromkeys(keys))}
        if env.get("DATA_DIR", "").strip():
            options["data_dir"] = Path(env["DATA_DIR"].strip())
        if env.get("MAX_BODY_BYTES", "").strip():
            text = env["MAX_BODY_BYTES"].strip()
            try:
                options["max_body_bytes"] = int(text)
            except ValueError:
                raise SettingsError(
                    f"MAX_BODY_BYTES must be a whole number of bytes, got {text!r}"
                ) from None
        return cls(**options)


def _split_keys(candidates) -> list[str]:
    return [key.strip() for key in candidates if key.strip()]
