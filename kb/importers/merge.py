"""Merge two records of the same procedure from different sources.

Catalogue rows (name, field, agency, online level, local code — e.g. a province's XLSX list) and
detail records (documents, channels, legal basis — the national portal pages) meet here:

* a detail record never loses its details to a catalogue stub;
* catalogue facts the detail record lacks are filled in (online level, local codes, field, ...);
* when both are detailed, the newer one (by ``updated``, else the new one) wins field by field,
  but empty values never overwrite filled ones;
* list-like citizen data (keywords, local codes) is united, order kept.
"""

from __future__ import annotations

from dataclasses import fields, replace

from ..model import Procedure

__all__ = ["merge", "detail_score"]

_DETAIL_FIELDS = ("steps", "channels", "documents", "legal_basis", "conditions", "result")
_UNION_FIELDS = ("keywords", "local_codes")
# catalogue facts a province publishes about its own variant: the catalogue knows them best
_CATALOG_FIELDS = ("online_level", "online_url")


def detail_score(p: Procedure) -> int:
    """How many detail sections a record has (0 for a catalogue stub)."""
    return sum(1 for f in _DETAIL_FIELDS if getattr(p, f))


def merge(existing: Procedure | None, new: Procedure) -> Procedure:
    if existing is None:
        return new
    if existing.code != new.code:
        raise ValueError(f"cannot merge different procedures {existing.code} and {new.code}")
    ed, nd = detail_score(existing), detail_score(new)
    if nd > ed or (nd == ed and (new.updated or "") >= (existing.updated or "")):
        base, other = new, existing
    else:
        base, other = existing, new
    changes = {}
    for f in fields(Procedure):
        name = f.name
        if name == "code":
            continue
        bv, ov = getattr(base, name), getattr(other, name)
        if name in _UNION_FIELDS:
            merged = tuple(dict.fromkeys((*existing.__dict__[name], *new.__dict__[name])))
            if merged != bv:
                changes[name] = merged
        elif name in _CATALOG_FIELDS:
            # the newer statement about the online level wins, whichever record carries it
            nv = getattr(new, name)
            val = nv if nv not in (None, "") else getattr(existing, name)
            if val != bv:
                changes[name] = val
        elif name == "source":
            parts = (*existing.source.split(" + "), *new.source.split(" + "))
            srcs = [s for s in dict.fromkeys(parts) if s]
            val = " + ".join(srcs)
            if val != bv:
                changes[name] = val
        elif bv in ("", (), None) and ov not in ("", (), None):
            changes[name] = ov
    return replace(base, **changes) if changes else base
