"""One declaration of every input table: its columns, their types and allowed codes.

The authority return is declared by its template: one YAML file per version under
`assets/templates/` (`v1.yaml`, `v2.yaml`, ...; every `v*.yaml` there is loaded, so a new
version needs no change here). Each version lists the `about` fields and the data sheets with
their columns, types, codes, key and unique columns, and which sheets and columns are
required. A return is read against the version it declares (`template_version`); the raw
tables hold the union of the columns of every version, under one name each (a column renamed
in a later version keeps the name it was first collected under), so a query reading a column
an older template lacks gets NULL (not collected) for those returns. See
docs/decisions/0019-template-versions.md.

The extracts (Women's Aid, SafeLives) are declared below in Python. The readers in
`pipelines/ingest/` type and check cells from these declarations, and the validation suites
derive their schema-level expectations from them, so a column is described once.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines.config_models import ColumnType, TemplateError, TemplateModel, check, locate, read_mapping
from pipelines.paths import ASSETS_DIR

TEMPLATES_DIR = ASSETS_DIR / "templates"

# Column types (declared with the template model, pipelines/config_models.py: ColumnType):
# count (whole number >= 0, blank = not collected), int (whole number), text (free text),
# code (one of `codes`), yesno, date (ISO date), year (YYYY-YY), codes_list (';'-separated codes).
TYPES: tuple[str, ...] = typing.get_args(ColumnType)
YES_NO = ("yes", "no")


@dataclass(frozen=True)
class Column:
    name: str  # the one name of the column in the warehouse (raw tables, cells, queries)
    type: str
    codes: tuple[str, ...] = ()
    description: str = ""
    required: bool = True  # a return whose version has it must give it (else a structural error)
    header: str = ""  # its heading in the return (a version's own name for it); default: `name`
    part_of: str = ""  # `individuals`: the columns whose sum is the individuals supported

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type}")
        if not self.header:
            object.__setattr__(self, "header", self.name)


@dataclass(frozen=True)
class Table:
    """A sheet of the authority return (of one template version, or of all of them), or a
    CSV/Parquet extract."""

    source: str
    name: str  # sheet name or file stem
    columns: tuple[Column, ...]
    key: str | None = None  # the column whose code identifies a row (one row per code)
    key_codes: tuple[str, ...] = ()  # when set, exactly one row per code is expected
    unique: tuple[str, ...] = ()  # columns whose combination is unique
    required: bool = True  # a return (of a version that has the sheet) must hold it
    description: str = ""

    @property
    def raw_table(self) -> str:
        return f"raw_{self.source}__{self.name}"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns)


def _counts(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "count") for n in names)


# --- Authority returns: the versions of the template ------------------------------------------

RETURNS = "authority_returns"
# The about fields the reader needs to identify a return and choose its template: every
# version must declare them, required, with these types.
IDENTITY_FIELDS = {"gss_code": "text", "financial_year": "year", "template_version": "int",
                   "submission_number": "int"}


@dataclass(frozen=True)
class Template:
    """One version of the return template, as `assets/templates/v<version>.yaml` declares it."""

    version: int
    path: Path
    about: tuple[Column, ...]  # the fields of the `about` sheet
    sheets: tuple[Table, ...]  # the data sheets, columns under their warehouse names
    codes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""

    @property
    def about_required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.about if f.required)

    def sheet(self, name: str) -> Table | None:
        return next((t for t in self.sheets if t.name == name), None)

    @property
    def sheet_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.sheets)


_FILE = re.compile(r"^v([0-9]+)\.yaml$")


def _raw_template(path: Path) -> tuple[dict, yaml.Node | None]:
    data, node = read_mapping(path, TemplateError, "a mapping with version, about and sheets")
    check(path, data, node, TemplateModel, TemplateError)  # unknown keys and wrong types, with their line
    return data, node


def _fail(path: Path, node: yaml.Node | None, keys: tuple, what: str) -> typing.NoReturn:
    _, line = locate(node, keys)
    raise TemplateError(f"{path}{f', line {line}' if line else ''}: {what}")


def _codes(path: Path, node, keys: tuple, value, lists: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        if value not in lists:
            _fail(path, node, keys, f"codes {value!r} is not one of the code lists of the file "
                                    f"({', '.join(lists) or 'none'})")
        return lists[value]
    return tuple(value)


def _load_template(path: Path, earlier: list[Template]) -> Template:
    """One version, its columns named as the versions before it named them (`earlier`, oldest
    first): a column renamed here (`renamed_from`) keeps the name it was first collected under."""
    data, node = _raw_template(path)
    m = _FILE.match(path.name)
    if m is None or int(m.group(1)) != data["version"]:
        _fail(path, node, ("version",), f"says version {data['version']}, but the file of version "
                                        f"{data['version']} is v{data['version']}.yaml")
    version = int(data["version"])
    lists = {name: tuple(codes) for name, codes in (data.get("codes") or {}).items()}
    about: list[Column] = []
    for i, f in enumerate(data["about"]):
        if any(c.name == f["name"] for c in about):
            _fail(path, node, ("about", i, "name"), f"the about field {f['name']!r} is declared twice")
        about.append(Column(f["name"], f["type"], _codes(path, node, ("about", i, "codes"), f.get("codes"), lists),
                            f.get("description", ""), bool(f.get("required", False))))
    for name, type_ in IDENTITY_FIELDS.items():
        got = next((c for c in about if c.name == name), None)
        if got is None or not got.required or got.type != type_:
            _fail(path, node, ("about",), f"the about field {name!r} must be declared, required, of type "
                                          f"{type_}: the reader identifies a return by it")
    sheets: list[Table] = []
    for i, s in enumerate(data["sheets"]):
        at = ("sheets", i)
        if s["name"] == "about" or any(t.name == s["name"] for t in sheets):
            _fail(path, node, (*at, "name"), f"the sheet {s['name']!r} is declared twice")
        before = next((t for t in reversed(earlier) if t.sheet(s["name"]) is not None), None)
        before_sheet = before.sheet(s["name"]) if before is not None else None
        columns: list[Column] = []
        for j, c in enumerate(s["columns"]):
            cat = (*at, "columns", j)
            if any(x.header == c["name"] for x in columns):
                _fail(path, node, (*cat, "name"), f"sheet {s['name']}: the column {c['name']!r} is declared twice")
            codes = _codes(path, node, (*cat, "codes"), c.get("codes"), lists)
            if c["type"] in ("code", "codes_list") and not codes:
                _fail(path, node, cat, f"sheet {s['name']}: the {c['type']} column {c['name']!r} needs its codes")
            name = c["name"]
            old = c.get("renamed_from")
            if old is not None:
                if before_sheet is None or not any(x.header == old for x in before_sheet.columns):
                    where = f"version {before.version}" if before is not None else "an earlier version"
                    _fail(path, node, (*cat, "renamed_from"),
                          f"sheet {s['name']}: column {name!r} is renamed from {old!r}, which is not a column "
                          f"of the sheet in {where}")
                name = next(x.name for x in before_sheet.columns if x.header == old)
            elif before_sheet is not None and any(x.header == c["name"] for x in before_sheet.columns):
                name = next(x.name for x in before_sheet.columns if x.header == c["name"])
            columns.append(Column(name, c["type"], codes, c.get("description", ""), bool(c.get("required", True)),
                                  header=c["name"], part_of=c.get("part_of") or ""))
        if len({c.name for c in columns}) != len(columns):
            _fail(path, node, (*at, "columns"), f"sheet {s['name']}: two columns are read into one name")
        by_header = {c.header: c for c in columns}
        key = s.get("key")
        if key is not None and (key not in by_header or by_header[key].type != "code"):
            _fail(path, node, (*at, "key"), f"sheet {s['name']}: the key {key!r} is not a code column of the sheet")
        key_codes = _codes(path, node, (*at, "key_codes"), s.get("key_codes"), lists)
        if key_codes and key is None:
            _fail(path, node, (*at, "key_codes"), f"sheet {s['name']}: key_codes without a key")
        for u in s.get("unique") or []:
            if u not in by_header:
                _fail(path, node, (*at, "unique"), f"sheet {s['name']}: the unique column {u!r} is not a column "
                                                   "of the sheet")
        key_name = by_header[key].name if key is not None else None
        if before_sheet is not None and before_sheet.key != key_name:
            _fail(path, node, (*at, "key"), f"sheet {s['name']}: the key must stay the column it was in version "
                                            f"{before.version if before else '?'} ({before_sheet.key})")
        sheets.append(Table(RETURNS, s["name"], tuple(columns), key=key_name, key_codes=key_codes,
                            unique=tuple(by_header[u].name for u in s.get("unique") or []),
                            required=bool(s.get("required", True)), description=s.get("description", "")))
    return Template(version, path, tuple(about), tuple(sheets), lists, data.get("description", ""))


def load_templates(folder: Path = TEMPLATES_DIR) -> dict[int, Template]:
    """Every version of the template in `folder` (`v<n>.yaml`), by version."""
    paths = sorted((p for p in folder.glob("v*.yaml")), key=lambda p: (len(p.stem), p.stem))
    if not paths:
        raise TemplateError(f"{folder}: no template file (v1.yaml, ...)")
    loaded: list[Template] = []
    for path in paths:
        if _FILE.match(path.name) is None:
            raise TemplateError(f"{path}: a template file is named v<version>.yaml (v1.yaml, v2.yaml, ...)")
        loaded.append(_load_template(path, loaded))
    out = {t.version: t for t in loaded}
    _check_union(out)
    return out


def _union_columns(versions: list[Column]) -> Column:
    """One column of the warehouse from its declarations in each version (oldest first)."""
    codes: list[str] = []
    for c in versions:
        codes += [x for x in c.codes if x not in codes]
    last = versions[-1]
    return Column(last.name, last.type, tuple(codes), last.description, any(c.required for c in versions),
                  part_of=last.part_of)


def _check_union(templates: dict[int, Template]) -> None:
    """A column has one type in the warehouse: every version that has it declares that type."""
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    for v, t in sorted(templates.items()):
        for fld in t.about:
            got = seen.setdefault(("about", fld.name), (fld.type, v))
            if got[0] != fld.type:
                raise TemplateError(f"{t.path}: the about field {fld.name!r} is of type {fld.type} here but "
                                    f"{got[0]} in version {got[1]}; a field keeps its type (declare a new field)")
        for s in t.sheets:
            for c in s.columns:
                got = seen.setdefault((s.name, c.name), (c.type, v))
                if got[0] != c.type:
                    raise TemplateError(f"{t.path}: sheet {s.name}: column {c.header!r} is of type {c.type} here but "
                                        f"{got[0]} in version {got[1]}; a column keeps its type (declare a new "
                                        "column instead)")


def union_sheets(templates: dict[int, Template]) -> tuple[Table, ...]:
    """Every sheet of every version, each with the union of its columns (oldest version's order,
    then what later versions add) and of its codes: the raw tables' declaration."""
    order: list[str] = []
    for _, t in sorted(templates.items()):
        order += [s.name for s in t.sheets if s.name not in order]
    out = []
    for name in order:
        decls = [s for _, t in sorted(templates.items()) if (s := t.sheet(name)) is not None]
        names: list[str] = []
        for s in decls:
            names += [c for c in s.names if c not in names]
        columns = tuple(_union_columns([s.column(n) for s in decls if s.has(n)]) for n in names)
        key_codes: list[str] = []
        for s in decls:
            key_codes += [x for x in s.key_codes if x not in key_codes]
        last = decls[-1]
        out.append(Table(RETURNS, name, columns, key=last.key, key_codes=tuple(key_codes), unique=last.unique,
                         required=any(s.required for s in decls), description=last.description))
    return tuple(out)


def union_about(templates: dict[int, Template]) -> tuple[Column, ...]:
    names: list[str] = []
    for _, t in sorted(templates.items()):
        names += [f.name for f in t.about if f.name not in names]
    return tuple(_union_columns([f for _, t in sorted(templates.items()) for f in t.about if f.name == n])
                 for n in names)


def code_list(name: str, templates: dict[int, Template] | None = None) -> tuple[str, ...]:
    """A code list of the templates, over every version that names it (oldest version's order)."""
    out: list[str] = []
    for _, t in sorted((templates or TEMPLATES).items()):
        out += [x for x in t.codes.get(name, ()) if x not in out]
    if not out:
        raise KeyError(f"no template declares the code list {name!r}")
    return tuple(out)


TEMPLATES: dict[int, Template] = load_templates()
VERSIONS: tuple[int, ...] = tuple(sorted(TEMPLATES))
LATEST: Template = TEMPLATES[VERSIONS[-1]]


def versions_with(sheet: str, column: str | None = None) -> tuple[int, ...]:
    """The versions whose template has the sheet (and the column, under its warehouse name)."""
    return tuple(v for v in VERSIONS if (s := TEMPLATES[v].sheet(sheet)) is not None
                 and (column is None or s.has(column)))


# --- Authority returns: every version together (the raw tables, the suites, the rules) --------
ABOUT_FIELDS: tuple[Column, ...] = union_about(TEMPLATES)
# required in every version: what identifies a return whatever its template
ABOUT_REQUIRED = tuple(f.name for f in ABOUT_FIELDS
                       if all(any(x.name == f.name and x.required for x in t.about) for t in TEMPLATES.values()))
RETURN_SHEETS: tuple[Table, ...] = union_sheets(TEMPLATES)


def return_sheet(name: str) -> Table:
    return next(t for t in RETURN_SHEETS if t.name == name)


SERVICES = return_sheet("services")
SUPPORTED = return_sheet("supported")
CHARACTERISTICS_SHEET = return_sheet("characteristics")
UNABLE_TO_SUPPORT = return_sheet("unable_to_support")
MOVE_ON = return_sheet("move_on")
LENGTH_OF_STAY = return_sheet("length_of_stay")

ACCOMMODATION_TYPES = code_list("accommodation_types")
BY_AND_FOR_GROUPS = code_list("by_and_for_groups")
COMPLETENESS = code_list("completeness")
CHARACTERISTICS = code_list("characteristics")
UNABLE_REASONS = code_list("unable_reasons")
MOVE_ON_DESTINATIONS = code_list("move_on_destinations")
STAY_TYPES = code_list("stay_types")
IDENTITIES = tuple(c.name for c in SUPPORTED.columns if c.part_of == "individuals")
STAY_BANDS = tuple(c.name for c in LENGTH_OF_STAY.columns if c.type == "count")

# --- Extract code lists ----------------------------------------------------------------------
SERVICE_TYPES = ("refuge", "community")
REFERRAL_OUTCOMES = ("accepted", "declined", "withdrawn", "pending")
DECLINE_REASONS = ("no_capacity", "needs_not_met", "nrpf", "risk_or_safety", "unable_to_contact", "other")
SUPPORT_NEEDS = (
    "mental_health", "drugs", "alcohol", "disability", "nrpf", "large_family", "older_son", "offending",
)

# --- Women's Aid -----------------------------------------------------------------------
REFUGE_SERVICES = Table(
    "womens_aid", "refuge_services",
    (
        Column("service_id", "text"),
        Column("snapshot_date", "date"),
        Column("gss_code", "text"),
        Column("service_type", "code", SERVICE_TYPES),
        Column("by_and_for", "yesno"),
        Column("by_and_for_group", "code", BY_AND_FOR_GROUPS),
        Column("bedspaces", "count"),
        Column("accepts_nrpf", "yesno"),
        Column("wheelchair_accessible_bedspaces", "count"),
    ),
    unique=("service_id",),
)
REFERRALS = Table(
    "womens_aid", "referrals",
    (
        Column("referral_id", "text"),
        Column("service_id", "text"),
        Column("referral_date", "date"),
        Column("outcome", "code", REFERRAL_OUTCOMES),
        Column("decline_reason", "code", DECLINE_REASONS),
        Column("children", "count"),
        Column("support_needs", "codes_list", SUPPORT_NEEDS),
    ),
    unique=("referral_id",),
)

# --- SafeLives -------------------------------------------------------------------------
MARAC_QUARTERLY = Table(
    "safelives", "marac_quarterly",
    (
        Column("marac_id", "text"),
        Column("pfa_code", "text"),
        Column("quarter_end", "date"),
        *_counts(
            "cases_discussed", "repeat_cases", "children_in_households",
            "cases_black_minoritised", "cases_lgbt", "cases_disabled", "cases_male",
        ),
    ),
    unique=("marac_id", "quarter_end"),
)

EXTRACTS: tuple[Table, ...] = (REFUGE_SERVICES, REFERRALS, MARAC_QUARTERLY)


# --- the sources ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """An input source, declared once: the readers, the ingest assets, issue ids, query lists
    and trace pages take what they say of a source from here."""

    name: str  # as the tables above name it: raw_<name>, stg_<name>__<table>, the ingest asset
    folder: str  # its folder under <raw>/<year>/
    issue_prefix: str  # the first letters of its issue ids (AR-2024-25-...)
    label: str  # as the query lists name it
    units: str  # what its figures are made from, as a trace page counts them

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(t for t in (*RETURN_SHEETS, *EXTRACTS) if t.source == self.name)


SOURCES: tuple[Source, ...] = (
    Source("authority_returns", "authority_returns", "AR", "Authority returns", "authorities"),
    Source("womens_aid", "womens_aid", "WA", "Women's Aid extract", "areas"),
    Source("safelives", "safelives", "SL", "SafeLives extract", "police force areas"),
)
SOURCE_NAMES: tuple[str, ...] = tuple(s.name for s in SOURCES)


def source(name: str) -> Source:
    return next(s for s in SOURCES if s.name == name)
