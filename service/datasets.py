"""Parameter tables a client may name with `path_to_psa_inputs`.

The original read any path or URL the client sent.  Here a name is a file
inside the configured data folder, and nothing else: URLs, absolute paths,
``..`` and anything whose real path (symlinks resolved) leaves the folder are
refused before the file system is touched beyond `realpath`.

Parsed tables are cached by real path, modification time and size, so a
request costs a `stat`, not a CSV parse, and a table the data owner replaces
is picked up on the next request.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import model
from model import metadata as units
from model.errors import quoted

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # http:, file:, s3:, C:…
CACHE_SIZE = 16


@dataclass(frozen=True)
class Dataset:
    name: str  # as the client gave it (or the default)
    table: model.ParameterTable
    sha256: str  # of the file's bytes: which data a result came from
    # Its units (NAME.meta.json beside the table; the documented defaults without one).
    metadata: units.Metadata = units.DEFAULTS


class DatasetError(Exception):
    """The name is not a dataset the client may use (a client error)."""


class DatasetNotFoundError(DatasetError):
    """The name has a dataset's form but the data folder holds no such file
    (a 404: the resource named does not exist)."""


class BadDatasetError(Exception):
    """The named dataset exists but is not a valid parameter table (the data
    owner's problem; the detail is logged, not shown to the client)."""


class DatasetStore:
    def __init__(self, data_dir: str | os.PathLike):
        self._root = os.path.realpath(data_dir)
        self._cache: dict[str, tuple[tuple, model.ParameterTable, str, units.Metadata]] = {}
        self._lock = threading.Lock()

    def resolve(self, name: str) -> str:
        """The real path of dataset `name`, or DatasetError saying why not:
        DatasetNotFoundError for a name of the accepted form that names no
        file in the folder."""
        if not name or not name.strip():
            raise DatasetError("path_to_psa_inputs is empty: give a dataset name")
        if "\x00" in name:
            raise DatasetError("path_to_psa_inputs contains a NUL character")
        if _SCHEME.match(name) or name.startswith("//"):
            raise DatasetError(
                f"path_to_psa_inputs {quoted(name)} looks like a URL: only the name of a "
                "dataset in the service's data folder is accepted, nothing is fetched"
            )
        parts = re.split(r"[\\/]", name)
        if name.startswith(("/", "\\", "~")) or ".." in parts:
            raise DatasetError(
                f"path_to_psa_inputs {quoted(name)} is not a dataset name: absolute paths, "
                "'~' and '..' are not accepted; give a name inside the data folder, "
                "e.g. parameter_distributions.csv"
            )
        path = os.path.realpath(os.path.join(self._root, name))
        if os.path.commonpath([self._root, path]) != self._root:
            # A link out of the folder: as absent as any other file not in it.
            raise DatasetNotFoundError(
                f"path_to_psa_inputs {quoted(name)} leads outside the data folder")
        if not os.path.isfile(path):
            raise DatasetNotFoundError(f"no dataset named {quoted(name)} in the data folder")
        return path

    def load(self, name: str) -> model.ParameterTable:
        return self.open(name).table

    def open(self, name: str) -> Dataset:
        """Dataset `name`: its table and the SHA-256 of the bytes it was read from."""
        path = self.resolve(name)
        try:
            stat = os.stat(path)
        except OSError:
            raise DatasetNotFoundError(f"no dataset named {quoted(name)} in the data folder") from None
        # The sidecar's version too: a data owner who edits only the units is heard.
        version = (stat.st_mtime_ns, stat.st_size, units.version(path))
        cached = self._cache.get(path)
        if cached is not None and cached[0] == version:
            return Dataset(name, *cached[1:])
        try:
            # One read: the digest is of exactly the bytes the table came from.
            with open(path, "rb") as handle:
                data = handle.read()
            table = model.read_table(io.BytesIO(data))
            metadata = units.read_metadata(path, root=self._root)
        except (ValueError, OSError) as exc:  # ModelError is a ValueError
            raise BadDatasetError(f"dataset {quoted(name)}: {exc}") from None
        sha256 = hashlib.sha256(data).hexdigest()
        with self._lock:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[path] = (version, table, sha256, metadata)
        return Dataset(name, table, sha256, metadata)
