"""The metric definitions: one YAML file per metric family beside its SQL in `assets/metrics/`.

Everything that describes a figure (methodology, metadata, units, table headings) is
generated from these definitions; nothing else restates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any


from pipelines.config_models import FamilyModel, check, read_mapping
from pipelines.paths import ASSETS_DIR

METRICS_DIR = ASSETS_DIR / "metrics"

# a figure's value is its numerator (a count), or SCALE x numerator / denominator (pipelines/metric_sql.py)
SCALE_OF_KIND = {"count": 1, "percent": 100, "rate_per_10000": 10000}
KINDS = set(SCALE_OF_KIND)
GEOGRAPHIC_LEVELS = ("national", "regional", "local_authority", "police_force_area")
PARTS_BY = ("local_authority", "police_force_area", "region")
THEMES = ("turned_away", "by_and_for", "move_on", "context", "coverage")
SOURCES = {
    "authority_returns": "Part 4 annual data returns from Tier 1 local authorities",
    "womens_aid": "Women's Aid (Routes to Support and On Track)",
    "safelives": "SafeLives Marac national dataset",
    "reference": "ONS geography and population reference data",
}


@dataclass(frozen=True)
class Sel:
    """Cells of a return: sheet, row codes (None: every row) and columns (None: every column).
    `row_has`: only rows whose cell in that column holds a value."""

    sheet: str
    keys: tuple[str, ...] | None = None
    fields: tuple[str, ...] | None = None
    row_has: str | None = None

    def describe(self) -> str:
        rows = "every row" if self.keys is None else "rows " + ", ".join(self.keys)
        cols = "every column" if self.fields is None else "column" + ("s " if len(self.fields) > 1 else " ") + ", ".join(self.fields)
        extra = f", rows where {self.row_has} is recorded" if self.row_has else ""
        return f"sheet {self.sheet}: {cols}; {rows}{extra}"


@dataclass(frozen=True)
class Rec:
    """Records of an extract. Referrals: outcomes, a support need, a decline reason.
    Refuge services: service type refuge, optionally by-and-for only (value: bedspaces)."""

    table: str
    outcomes: tuple[str, ...] | None = None
    need: str | None = None
    decline_reason: str | None = None
    by_and_for: bool = False

    def describe(self) -> str:
        if self.table == "referrals":
            parts = ["each referral" + (f" with outcome {' or '.join(self.outcomes)}" if self.outcomes else "")]
            if self.need:
                parts.append(f"listing support need {self.need}")
            if self.decline_reason:
                parts.append(f"declined for reason {self.decline_reason}")
            return "Women's Aid referrals extract: " + ", ".join(parts) + " (one record counts 1)"
        return ("Women's Aid services extract: bedspaces of each service of type refuge"
                + (" run by and for a group" if self.by_and_for else ""))


Basis = tuple[Sel | Rec, ...] | str  # a string for a basis that is not a sum of cells


def describe_basis(b: Basis) -> str:
    return b if isinstance(b, str) else "; plus ".join(x.describe() for x in b)


@dataclass(frozen=True)
class Measure:
    id: str
    family: str
    source: str
    theme: str
    title: str
    unit: str
    kind: str  # count | percent | rate_per_10000
    counts_people: bool  # England and regional counts of people are rounded
    headline: bool
    definition: str
    numerator: str | None
    denominator: str | None
    geographies: tuple[str, ...]
    breakdowns: tuple[str, ...]
    breakdown_labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    caveats: tuple[str, ...] = ()
    method_version: int = 1
    sql_file: str = ""
    reads: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)  # role -> selectors | sentence
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    # (version, note): the definition changes from that version of the return template on, so a
    # change on the year before across the break is [b] (pipelines/metric_sql.py, disclosure.py)
    template_changes: tuple[tuple[int, str], ...] = ()

    @property
    def scale(self) -> int:
        """A rate is scale x numerator / denominator (100 for a percent); a count is its numerator."""
        return SCALE_OF_KIND[self.kind]

    def basis(self, breakdown: str) -> dict[str, Basis]:
        """What one authority's (or area's) numerator and denominator of this breakdown add
        up, from the measure's `reads` (cells `Sel`, records `Rec`, or a sentence for a basis
        that is not a sum of cells); empty when the family rests on something else."""
        out: dict[str, Basis] = {}
        for role, declared in self.reads.items():
            if isinstance(declared, str):
                out[role] = " ".join(declared.split())
                continue
            got = tuple(self._selector(x, breakdown) for x in declared
                        if x.get("for") is None or breakdown in self._listed(x["for"]))
            if got:
                out[role] = got
        return out

    def _codes(self, value: Any, breakdown: str) -> tuple[str, ...] | None:
        """A list of codes; `breakdown`: the breakdown's group, every code for "all", else
        itself; another text: the family list of that name."""
        if value is None:
            return None
        if isinstance(value, list):
            return tuple(str(x) for x in value)
        if value == "breakdown":
            if breakdown in self.groups:
                return self.groups[breakdown]
            return None if breakdown == "all" else (breakdown,)
        return self.lists[value]

    def _listed(self, value: str | list) -> tuple[str, ...]:
        """A list of codes, or the family list of that name."""
        return tuple(str(x) for x in value) if isinstance(value, list) else self.lists[value]

    def _selector(self, x: dict, breakdown: str) -> Sel | Rec:
        one = lambda v: (None if breakdown == "all" else breakdown) if v == "breakdown" else v  # noqa: E731
        if "sheet" in x:
            return Sel(x["sheet"], self._codes(x.get("rows"), breakdown), self._codes(x.get("columns"), breakdown),
                       x.get("row_has"))
        return Rec(x["records"], self._codes(x.get("outcomes"), breakdown), one(x.get("need")),
                   one(x.get("decline_reason")), bool(x.get("by_and_for", False)))

    def breakdown_label(self, breakdown: str) -> str:
        if breakdown in self.breakdown_labels:
            return self.breakdown_labels[breakdown]
        return "All" if breakdown == "all" else breakdown.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Term:
    """One published quantity of a figure: its value (a count), or the numerator or
    denominator printed beside a rate."""

    measure: str
    breakdown: str
    field: str = "value"  # value | numerator | denominator

    def __str__(self) -> str:
        return f"{self.measure}.{self.breakdown}" + ("" if self.field == "value" else f".{self.field}")


@dataclass(frozen=True)
class Relation:
    """`total = part + part + ...`, exact for every geography and year where its terms are published."""

    total: Term
    parts: tuple[Term, ...]
    family: str
    levels: tuple[str, ...] = ()  # where it holds, when not at every level its terms are published at

    def __str__(self) -> str:
        return f"{self.total} = {' + '.join(str(p) for p in self.parts)}"


@dataclass(frozen=True)
class Family:
    name: str
    source: str
    sql_file: Path
    yaml_file: Path
    description: str
    measures: tuple[Measure, ...]
    relations: tuple[Relation, ...] = ()
    parts_by: str = "local_authority"  # the units the SQL's parts are by: local_authority | police_force_area | region
    rests_on: str = ""  # what its figures rest on when they are not sums of cells (provenance)


class MetricDefinitionError(ValueError):
    """A metric definition file that cannot be used; the message names the file and, for a
    key that is unknown or of the wrong type, the key and its line (pipelines/config_models.py)."""


def _load_family(yaml_file: Path) -> Family:
    data, node = read_mapping(yaml_file, MetricDefinitionError, "a mapping with source, description and measures")
    check(yaml_file, data, node, FamilyModel, MetricDefinitionError)  # unknown keys and wrong types, with their line
    name = yaml_file.stem
    sql_file = yaml_file.with_suffix(".sql")
    if not sql_file.exists():
        raise MetricDefinitionError(f"{yaml_file}: no SQL file {sql_file.name} beside it")
    source = data["source"]
    if source not in SOURCES:
        raise MetricDefinitionError(f"{yaml_file}: unknown source {source!r}")
    labels = data.get("breakdown_labels", {}) or {}
    parts_by = data.get("parts_by", "local_authority")
    if parts_by not in PARTS_BY:
        raise MetricDefinitionError(f"{yaml_file}: parts_by must be one of {', '.join(PARTS_BY)}, not {parts_by!r}")
    lists = {str(k): tuple(str(x) for x in v) for k, v in (data.get("lists") or {}).items()}
    family_groups = {str(k): tuple(str(x) for x in v) for k, v in (data.get("groups") or {}).items()}
    measures = []
    for m in data["measures"]:
        kind = m["kind"]
        if kind not in KINDS:
            raise MetricDefinitionError(f"{yaml_file}: measure {m['id']}: unknown kind {kind!r}")
        theme = m.get("theme", data.get("theme"))
        if theme not in THEMES:
            raise MetricDefinitionError(f"{yaml_file}: measure {m['id']}: unknown theme {theme!r}")
        geos = tuple(m["geographies"])
        for g in geos:
            if g not in GEOGRAPHIC_LEVELS:
                raise MetricDefinitionError(f"{yaml_file}: measure {m['id']}: unknown geography {g!r}")
            if g not in ("national", "regional", parts_by):
                raise MetricDefinitionError(f"{yaml_file}: measure {m['id']}: its parts are by {parts_by}, so it "
                                            f"cannot be published at {g} level")
        changes = _template_changes(yaml_file, m, source, parts_by)
        measures.append(
            Measure(
                id=m["id"],
                family=name,
                source=source,
                theme=theme,
                title=m["title"],
                unit=m["unit"],
                kind=kind,
                counts_people=bool(m.get("counts_people", False)),
                headline=bool(m.get("headline", False)),
                definition=" ".join(m["definition"].split()),
                numerator=m.get("numerator"),
                denominator=m.get("denominator"),
                geographies=geos,
                breakdowns=tuple(str(b) for b in m.get("breakdowns", ["all"])),
                breakdown_labels={**labels, **(m.get("breakdown_labels") or {})},
                caveats=tuple(" ".join(c.split()) for c in m.get("caveats", []))
                + tuple(f"{' '.join(note.split())} (A change across the break, from template version {v}, is "
                        "shown as [b].)" for v, note in changes),
                method_version=int(m.get("method_version", data.get("method_version", 1))),
                sql_file=f"assets/metrics/{sql_file.name}",
                reads=_reads(yaml_file, m, lists),
                lists=lists,
                groups={**family_groups, **{str(k): tuple(str(x) for x in v) for k, v in (m.get("groups") or {}).items()}},
                template_changes=changes,
            )
        )
    return Family(
        name=name,
        source=source,
        sql_file=sql_file,
        yaml_file=yaml_file,
        description=" ".join(str(data.get("description", "")).split()),
        measures=tuple(measures),
        relations=tuple(_parse_relation(str(text), name, yaml_file) for text in data.get("relations", []) or []),
        parts_by=parts_by,
        rests_on=" ".join(str(data.get("rests_on") or "").split()),
    )


def _template_changes(yaml_file: Path, m: dict, source: str, parts_by: str) -> tuple[tuple[int, str], ...]:
    """A measure's `template_changes`: the versions of the return template from which its
    definition changes, each with the note that says how."""
    from pipelines import schemas

    declared = m.get("template_changes") or []
    if declared and (source != "authority_returns" or parts_by != "local_authority"):
        raise MetricDefinitionError(f"{yaml_file}: measure {m['id']}: template_changes are for a measure made "
                                    "from the authority returns, by local authority")
    out = []
    for c in declared:
        v = int(c["from_version"])
        if v not in schemas.VERSIONS or v == schemas.VERSIONS[0]:
            later = ", ".join(str(x) for x in schemas.VERSIONS[1:]) or "none yet"
            raise MetricDefinitionError(f"{yaml_file}: measure {m['id']}: template_changes from_version {v} is not "
                                        f"a later version of the return template (assets/templates/: {later})")
        out.append((v, str(c["note"])))
    return tuple(sorted(out))


def _reads(yaml_file: Path, m: dict, lists: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """A measure's `reads`, its list names checked against the family's `lists`."""
    reads = {role: v for role, v in (m.get("reads") or {}).items() if v is not None}
    for role, declared in reads.items():
        for x in declared if isinstance(declared, list) else ():
            if ("sheet" in x) == ("records" in x):
                raise MetricDefinitionError(f"{yaml_file}: measure {m['id']}: each of its {role} reads names "
                                            "either a sheet or records")
            for key in ("rows", "columns", "outcomes", "for"):
                v = x.get(key)
                if isinstance(v, str) and (v != "breakdown" or key == "for") and v not in lists:
                    raise MetricDefinitionError(f"{yaml_file}: measure {m['id']}: {role} {key}: {v!r} is neither "
                                                "`breakdown` nor a list under `lists`")
    return reads


def _parse_term(text: str, where: str) -> Term:
    bits = text.strip().split(".")
    if len(bits) == 2:
        return Term(bits[0], bits[1])
    if len(bits) == 3 and bits[2] in ("numerator", "denominator"):
        return Term(bits[0], bits[1], bits[2])
    raise MetricDefinitionError(f"{where}: {text.strip()!r} is not measure.breakdown or measure.breakdown.numerator|denominator")


def _parse_relation(text: str, family: str, yaml_file: Path) -> Relation:
    where = f"{yaml_file.name}: relation {' '.join(text.split())!r}"
    if text.count("=") != 1:
        raise MetricDefinitionError(f"{where}: write it as total = part + part")
    levels: tuple[str, ...] = ()
    if " at " in text:  # `total = part at local_authority`: the relation holds at those levels only
        text, at = text.split(" at ")
        levels = tuple(x.strip() for x in at.split(","))
        unknown = [x for x in levels if x not in GEOGRAPHIC_LEVELS]
        if unknown:
            raise MetricDefinitionError(f"{where}: unknown geographic level(s) {unknown}")
    left, right = text.split("=")
    return Relation(_parse_term(left, where), tuple(_parse_term(t, where) for t in right.split("+")), family,
                    levels)


@cache
def families(metrics_dir: Path = METRICS_DIR) -> tuple[Family, ...]:
    """Every metric family, in file-name order."""
    return tuple(_load_family(p) for p in sorted(metrics_dir.glob("*.yaml")))


def family(name: str, metrics_dir: Path = METRICS_DIR) -> Family:
    """The family of `<metrics_dir>/<name>.yaml`."""
    for fam in families(metrics_dir):
        if fam.name == name:
            return fam
    raise MetricDefinitionError(f"{metrics_dir / (name + '.sql')}: no definition {name}.yaml beside it")


@cache
def measures(metrics_dir: Path = METRICS_DIR) -> dict[str, Measure]:
    """Every measure by id (ids are unique across families)."""
    out: dict[str, Measure] = {}
    for fam in families(metrics_dir):
        for m in fam.measures:
            if m.id in out:
                raise MetricDefinitionError(f"measure {m.id} defined twice ({out[m.id].family}, {fam.name})")
            out[m.id] = m
    return out


@cache
def relations(metrics_dir: Path = METRICS_DIR) -> tuple[Relation, ...]:
    """Every declared relation, each term checked against the measure it names."""
    by_id = measures(metrics_dir)
    out = []
    for fam in families(metrics_dir):
        for rel in fam.relations:
            for t in (rel.total, *rel.parts):
                m = by_id.get(t.measure)
                if m is None:
                    raise MetricDefinitionError(f"{fam.yaml_file.name}: relation {rel}: no measure {t.measure!r}")
                if t.breakdown not in m.breakdowns:
                    raise MetricDefinitionError(f"{fam.yaml_file.name}: relation {rel}: {t.measure} has no breakdown {t.breakdown!r}")
                if (t.field == "value") != (m.kind == "count"):
                    raise MetricDefinitionError(f"{fam.yaml_file.name}: relation {rel}: {t} must name the value of a count, "
                                     "or the numerator or denominator of a rate")
            out.append(rel)
    return tuple(out)
