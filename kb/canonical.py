"""The project's canonical knowledge-base format.

* YAML: a file holds a list of procedure mappings, each exactly ``Procedure.to_dict()``
  (see kb/model.py; empty values may be left out). The bundled KB is ``kb/data/procedures/*.yaml``.
* JSONL: one ``Procedure.to_dict()`` object per line, for machine exports.

Loading validates every record; problems are reported as :class:`CanonicalError` with the file,
the line (from YAML node marks / the JSONL line) and the reason. ``load_*`` raise on the first
problem set (all problems of the file listed); ``iter_*`` yield ``Procedure | RowError`` so an
import can go on past bad records.
"""

from __future__ import annotations

import functools

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from .importers.common import RowError
from .importers.io import parse_json_lines
from .model import InvalidProcedure, Procedure

__all__ = [
    "CanonicalError",
    "BUNDLED_DIR",
    "iter_yaml",
    "iter_jsonl",
    "iter_file",
    "load_file",
    "load_dir",
    "load_bundled",
    "dump_yaml",
    "dump_jsonl",
]

BUNDLED_DIR = Path(__file__).parent / "data" / "procedures"


class CanonicalError(ValueError):
    """One or more invalid records; ``errors`` lists them (file, line, reason)."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors[:10]) + (" …" if len(errors) > 10 else ""))


class _Loader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping (``__line__`` is not added to data)."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    return _Marked(mapping, node.start_mark.line + 1)


class _Marked(dict):
    __slots__ = ("line",)

    def __init__(self, data: dict, line: int):
        super().__init__(data)
        self.line = line


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):  # YAML dates -> ISO text
        return value.isoformat()
    return value


def iter_yaml(path: str | Path) -> Iterator[Procedure | RowError]:
    p = Path(path)
    src = p.name
    try:
        with open(p, encoding="utf-8-sig") as fh:
            data = yaml.load(fh, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        yield RowError(src, (mark.line + 1) if mark else 0, f"invalid YAML: {getattr(exc, 'problem', exc)}")
        return
    if data is None:
        return
    if isinstance(data, dict) and "procedures" in data:  # tolerate {procedures: [...]}
        data = data["procedures"]
    if not isinstance(data, list):
        yield RowError(src, getattr(data, "line", 1), "expected a list of procedures")
        return
    for i, item in enumerate(data):
        line = getattr(item, "line", 0)
        try:
            yield Procedure.from_dict(_plain(item))
        except InvalidProcedure as exc:
            yield RowError(src, line, f"procedure #{i + 1}: {exc}")


def iter_jsonl(path: str | Path) -> Iterator[Procedure | RowError]:
    return parse_json_lines(path, Procedure.from_dict)


def iter_file(path: str | Path) -> Iterator[Procedure | RowError]:
    name = Path(path).name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return iter_jsonl(path)
    return iter_yaml(path)


def load_file(path: str | Path) -> list[Procedure]:
    """All records of one YAML/JSONL file; CanonicalError listing every bad record."""
    procs, errors = [], []
    for item in iter_file(path):
        (errors if isinstance(item, RowError) else procs).append(item)
    if errors:
        raise CanonicalError(errors)
    return procs


def load_dir(directory: str | Path) -> list[Procedure]:
    """Every ``*.yaml``/``*.yml``/``*.jsonl`` file in ``directory`` (sorted by name); all errors
    of all files are collected before raising. A code in two files is an error."""
    d = Path(directory)
    procs: list[Procedure] = []
    errors: list[RowError] = []
    seen: dict[str, str] = {}
    files = sorted(f for f in d.iterdir() if f.suffix in (".yaml", ".yml", ".jsonl")) if d.is_dir() else []
    for f in files:
        for item in iter_file(f):
            if isinstance(item, RowError):
                errors.append(item)
                continue
            if item.code in seen:
                errors.append(RowError(f.name, 0, f"{item.code}: already defined in {seen[item.code]}"))
                continue
            seen[item.code] = f.name
            procs.append(item)
    if errors:
        raise CanonicalError(errors)
    return procs


def load_bundled() -> list[Procedure]:
    """The knowledge base shipped with the project (``kb/data/procedures``); parsed once
    per process (the files are part of the installed package and records are frozen)."""
    return list(_bundled())


@functools.lru_cache(maxsize=1)
def _bundled() -> tuple[Procedure, ...]:
    return tuple(load_dir(BUNDLED_DIR))


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(procedures: Iterable[Procedure], path: str | Path | None = None) -> str:
    """The canonical YAML text (written to ``path`` when given)."""
    text = yaml.dump(
        [p.to_dict() for p in procedures], Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100
    )
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def dump_jsonl(procedures: Iterable[Procedure], path: str | Path | None = None) -> str:
    text = "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in procedures)
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text
