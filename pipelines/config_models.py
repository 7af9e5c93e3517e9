"""Models of the configuration files, checked with pydantic before anything reads them.

Four kinds of file are written by hand: the release configuration (`reports/release.yaml`),
the metric definitions (`assets/metrics/*.yaml`), the versions of the return template
(`assets/templates/v<n>.yaml`) and the statistician's decisions (`<raw>/<year>/decisions.yaml`). Each has a model here with `extra="forbid"`, so a misspelt
or unknown key is an error, not a key silently dropped; a wrong type (a string where a list
belongs) is an error too. `load_yaml` keeps the YAML's nodes, and `problem` turns the first
pydantic error into a sentence naming the key and the line it is on (1-based, as an editor
shows it). The models check the shape only: the loaders (`pipelines/release/config.py`,
`pipelines/metric_catalog.py`, `pipelines/schemas.py`, `pipelines/quality.py`) still build their objects from the
YAML values and make their own checks of the values (see
docs/decisions/0014-configuration-models.md).
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: the same values, faster


class TemplateError(ValueError):
    """A return template file (assets/templates/v<n>.yaml) that cannot be used; the message names
    the file and the line. The templates load when pipelines.schemas is imported, so the CLI
    catches this one error by its class, defined here where nothing else loads."""


class Model(BaseModel):
    """A mapping of a configuration file: every key it may hold is a field."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# A value printed as text: the loaders turn it into a string themselves (as they always have).
Text = str | int | float | dt.date
Texts = Text | list[Text]  # one text, or a list of them


# --- reports/release.yaml --------------------------------------------------------------------

class Download(Model):
    file: Text
    title: Text | None = None
    description: Text | None = None


class Caveat(Model):
    id: Text | None = None  # a table's `notes:` may name it, to carry the caveat as a table note
    title: Text
    text: Text


class SourceModel(Model):
    """One source in the comparison of sources (text only: never a number)."""

    source: Text
    name: Text
    counts: Text
    unit: Text
    coverage: Text
    timing: Text
    geography: Text


class Revision(Model):
    figure_id: Text
    reason: Text


class MainPoint(Model):
    measure: Text
    breakdown: Text = "all"


class SectionModel(Model):
    id: Text
    title: Text
    intro: Text = ""


class ChartModel(Model):
    type: Text = "line"
    title: Text | None = None
    measures: Texts | None = None
    breakdowns: Texts | None = None
    exclude_breakdowns: Texts | None = None
    years: Text = "all"
    transpose: bool = False


class MeasureEntry(Model):
    measure: Text
    breakdowns: Texts | None = None


class TableModel(Model):
    id: Text | None = None
    theme: Text | None = None
    title: Text
    measures: list[Text | MeasureEntry] | None = None
    breakdowns: Texts | None = None
    geographic_level: Text = "national"
    include_england: bool = False
    years: Text = "all"
    rows: Texts | None = None
    columns: Texts | None = None
    labels: dict[Text, Text] | None = None
    notes: Texts | None = None
    interactive: bool = False
    headline: bool = False
    source_in_labels: bool = False
    chart: ChartModel | None = None


# Commentary: by key (main_points or a section id), one paragraph or a list of paragraphs.
Commentary = dict[Text, Texts | None]


class ReleaseModel(Model):
    title: Text
    summary: Text = ""
    publisher: Text
    contact: Text
    statistician: Text = ""
    feedback: Text = ""
    next_update: Text = ""
    status: Text | None = None
    status_options: dict[Text, Text] | None = None
    population_vintages: list[int] | None = None
    coverage_threshold: float = 90
    other_downloads: list[Download] | None = None
    trace_command: Text = ""
    symbols: dict[Text, Text] | None = None
    caveats: list[Caveat] | None = None
    change_note: Text = ""
    methodology_intro: Text = ""
    disclosure_text: Text = ""
    revisions: dict[Text, list[Revision] | None] | None = None
    main_points: list[MainPoint] | None = None
    commentary: Commentary | None = None
    sections: list[SectionModel] | None = None
    sources_compared: list[SourceModel] | None = None
    tables: list[TableModel] | None = None


class UpdateModel(Model):
    date: Text
    note: Text


class YearModel(Model):
    """reports/years/<year>.yaml: what changes with each year's release (`dasa new-year` writes it
    with TODO placeholders, which a draft accepts and `--final` refuses)."""

    publication_date: Text | None = None
    status: Text | None = None
    contact: Text | None = None
    statistician: Text | None = None
    next_update: Text | None = None
    updates: list[UpdateModel] | None = None  # change notes: each date and what changed, newest last
    commentary: Commentary | None = None  # the statistician's words on this year's figures


# --- assets/metrics/<family>.yaml ----------------------------------------------------------------

class SelectorModel(Model):
    """What one authority's numerator or denominator adds up: cells of a return sheet
    (`sheet`, with `rows`, `columns`, `row_has`) or records of an extract (`records`, with
    `outcomes`, `need`, `decline_reason`, `by_and_for`). A list value is a list of codes; the
    text `breakdown` is the figure's own breakdown (the family's `groups` entry for it, every
    code for "all"); another text names one of the family's `lists`. `for`: only for these
    breakdowns (a list, or the name of a list)."""

    sheet: str | None = None
    rows: str | list[Text] | None = None
    columns: str | list[Text] | None = None
    row_has: str | None = None
    records: str | None = None
    outcomes: str | list[Text] | None = None
    need: str | None = None
    decline_reason: str | None = None
    by_and_for: bool = False
    for_: str | list[Text] | None = Field(default=None, alias="for")


class TemplateChangeModel(Model):
    """The measure's definition changes from this version of the return template on: its
    year-on-year change across the break is published [b], and the note says why."""

    from_version: int
    note: str


class ReadsModel(Model):
    # each: the cells or records it sums, or a sentence for a basis that is not a sum of cells
    numerator: list[SelectorModel] | str | None = None
    denominator: list[SelectorModel] | str | None = None


class MeasureModel(Model):
    id: str
    title: str
    unit: str
    kind: str
    theme: str | None = None
    counts_people: bool = False
    headline: bool = False
    definition: str
    numerator: str | None = None
    denominator: str | None = None
    geographies: list[str]
    breakdowns: list[Text] = ["all"]
    breakdown_labels: dict[Text, str] | None = None
    caveats: list[str] = []
    method_version: int | None = None
    reads: ReadsModel | None = None
    groups: dict[Text, list[Text]] | None = None
    template_changes: list[TemplateChangeModel] | None = None


class FamilyModel(Model):
    description: str = ""
    source: str
    theme: str | None = None
    method_version: int | None = None
    parts_by: str = "local_authority"
    rests_on: str | None = None
    breakdown_labels: dict[Text, str] | None = None
    lists: dict[str, list[Text]] | None = None
    groups: dict[Text, list[Text]] | None = None
    measures: list[MeasureModel]
    relations: list[str] | None = None


# --- assets/templates/v<n>.yaml -------------------------------------------------------------------

# What a cell may hold: count (whole number >= 0, blank = not collected), int (whole number),
# text (free text), code (one of `codes`), yesno, date (ISO date), year (YYYY-YY), codes_list
# (';'-separated codes). The readers implement exactly these (pipelines/schemas.py: TYPES).
ColumnType = Literal["count", "int", "text", "code", "yesno", "date", "year", "codes_list"]
Codes = str | list[str]  # the name of one of the template's code lists, or the codes themselves


class TemplateFieldModel(Model):
    """A field of the `about` sheet (a field/value list)."""

    name: str
    type: ColumnType
    required: bool = False  # missing or not of its type: a structural error (else a cell error)
    codes: Codes | None = None
    description: str = ""


class TemplateColumnModel(Model):
    """A column of a data sheet, as its heading reads in this version."""

    name: str
    type: ColumnType
    required: bool = True  # a required column missing from the header row is a structural error
    codes: Codes | None = None
    renamed_from: str | None = None  # its heading in the version before (read into one name)
    part_of: str | None = None  # `individuals`: the columns whose sum is the individuals supported
    description: str = ""


class TemplateSheetModel(Model):
    name: str
    required: bool = True  # False: a return may leave the sheet out (its figures are not collected)
    description: str = ""
    key: str | None = None  # the column whose code names a row
    key_codes: Codes | None = None  # one row per code expected (a missing row is a warning)
    unique: list[str] = []  # columns whose values are unique within a return
    columns: list[TemplateColumnModel]


class TemplateModel(Model):
    version: int
    description: str = ""
    codes: dict[str, list[str]] = {}
    about: list[TemplateFieldModel]
    sheets: list[TemplateSheetModel]


# --- <raw>/<year>/decisions.yaml -----------------------------------------------------------------

class DecisionEntry(Model):
    # each may be missing or blank here: pipelines/quality.py names what is missing
    issue_id: Text | None = None
    decision: Text | None = None
    reason: Text | None = None
    decided_by: Text | None = None
    date: Text | None = None


class DecisionsModel(Model):
    decisions: list[DecisionEntry] | None = None


# --- loading and the error sentence ------------------------------------------------------------

def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The values of a YAML document (as `yaml.load` with a SafeLoader gives them) and its
    node tree, which knows the line of every key and item. Raises yaml.YAMLError."""
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return (loader.construct_document(node) if node is not None else None), node
    finally:
        loader.dispose()


def _child(node: yaml.Node, part: Any) -> tuple[yaml.Node, yaml.Node] | None:
    """(the node to report, the node to descend into) for one step of an error location."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key, value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part], node.value[part]
    return None


def locate(node: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], int | None]:
    """The keys and indexes of pydantic's error location that are in the file, and the
    1-based line of the last of them; parts that are not in the YAML (the name of a union
    member, a missing key) are passed over."""
    if node is None:
        return (), None
    keys: list[Any] = []
    line = node.start_mark.line + 1
    for part in loc:
        step = _child(node, part)
        if step is None:
            continue
        keys.append(part)
        line, node = step[0].start_mark.line + 1, step[1]
    return tuple(keys), line


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model of the mapping at `loc` (to list the keys it allows)."""
    current: Any = model
    for part in loc:
        candidates = [current]
        found = None
        while candidates:
            tp = candidates.pop()
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                if isinstance(part, str) and part in tp.model_fields:
                    found = tp.model_fields[part].annotation
                    break
                if part == tp.__name__:
                    found = tp
                    break
                continue
            origin = typing.get_origin(tp)
            if origin in (Union, types.UnionType):
                candidates += list(typing.get_args(tp))
            elif origin is list and isinstance(part, int):
                found = typing.get_args(tp)[0]
                break
            elif origin is dict:
                found = typing.get_args(tp)[1]
                break
        if found is None:
            continue  # a union member's tag that names no model
        current = found
    pending = [current]
    while pending:
        tp = pending.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
        pending += list(typing.get_args(tp))
    return None


def _where(keys: tuple[Any, ...], data: Any) -> str:
    """`tables[households_england].chart`: a list's item by its id (or name) when it has one, else
    its index."""
    out = ""
    for key in keys:
        if isinstance(key, int):
            item = data[key] if isinstance(data, list) and key < len(data) else None
            label = next((item[k] for k in ("id", "name") if isinstance(item, dict)
                          and isinstance(item.get(k), (str, int))), None)
            out += f"[{label}]" if label is not None else f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
        data = data.get(key) if isinstance(data, dict) else item if isinstance(key, int) else None
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def problem(exc: ValidationError, node: yaml.Node | None, model: type[BaseModel],
            data: Any = None) -> tuple[tuple[Any, ...], int | None, str]:
    """The first error of a validation: (its keys in the file, its line, what is wrong)."""
    # a value that is none of a union's members fails once per member: report the error that
    # reaches deepest into the file (a misspelt key of a mapping, not "not a string")
    located = [(err, *locate(node, tuple(err["loc"]))) for err in exc.errors(include_url=False)]
    err, keys, line = max(located, key=lambda e: (len(e[1]), e[0]["type"] in ("extra_forbidden", "missing")))
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        owner = _model_at(model, loc[:-1])
        allowed = list(owner.model_fields) if owner is not None else []
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        where = _where(keys[:-1], data)
        return keys, line, (f"unknown key {key!r}{' in ' + where if where else ''}{hint}; "
                            f"allowed: {', '.join(allowed)}")
    if err["type"] == "missing":
        where = _where(keys, data)
        return keys, line, f"missing key {str(loc[-1])!r}{' in ' + where if where else ''}"
    where = _where(keys, data) or "the file"
    message = err["msg"]
    return keys, line, f"{where}: {message[0].lower() + message[1:]} (found {_short(err['input'])})"


def read_mapping(path: Path, error: type[Exception], expected: str,
                 empty: bool = False) -> tuple[dict, yaml.Node | None]:
    """A hand-written YAML file that must hold a mapping, with its nodes (for `check`): raises
    `error` naming the file when it is not valid YAML or not a mapping (`expected` says what it
    should hold). With `empty`, an empty file is an empty mapping."""
    try:
        data, node = load_yaml(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if data is None and empty:
        return {}, node
    if not isinstance(data, dict):
        raise error(f"{path}: expected {expected}")
    return data, node


def check(path: Path | str, data: Any, node: yaml.Node | None, model: type[BaseModel],
          error: type[Exception]) -> None:
    """Validate `data` against `model`; raise `error` with '<file>, line <n>: <what>'."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        _, line, what = problem(exc, node, model, data)
        raise error(f"{path}{f', line {line}' if line else ''}: {what}") from None
