"""The release configuration (`reports/release.yaml`): text around the figures and the list
of tables and charts. Loaded and checked here; nothing in it is a number."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from pipelines.config_models import ReleaseModel, YearModel, check, read_mapping
from pipelines.metric_catalog import GEOGRAPHIC_LEVELS
from pipelines.paths import REPORTS_DIR
from pipelines.safe_paths import name_problem

CONFIG_FILE = REPORTS_DIR / "release.yaml"
# Another release configuration (a release.yaml, with its years/ folder beside it) to use in
# place of reports/: the tests build their hand-made worlds with a copy that has no commentary,
# since the commentary is written for the bundled sample's figures.
CONFIG_ENV = "DASA_RELEASE_CONFIG"
YEARS_DIR = REPORTS_DIR / "years"  # <year>.yaml: the publication date, status and contact of each year
PLACEHOLDER = "TODO"  # a value `dasa new-year` leaves to fill in: a draft accepts it, --final refuses it
_YEAR_FILE = re.compile(r"^(\d{4})-(\d{2})\.yaml$")
DIMENSIONS = ("measure", "breakdown", "geography", "time_period")
CHART_TYPES = ("line", "bar", "hbar")
STATUS_LABELS = (
    "Management information",
    "Official statistics in development",
    "Official statistics",
    "Accredited official statistics",
)


class ConfigError(ValueError):
    """The release configuration is not valid; the message names the file and, for a key
    that is unknown or of the wrong type, the key and its line (pipelines/config_models.py)."""


@dataclass(frozen=True)
class MeasureRef:
    measure: str
    breakdowns: tuple[str, ...] | None = None  # None: every breakdown in the figures


@dataclass(frozen=True)
class ChartSpec:
    type: str
    title: str | None
    measures: tuple[str, ...] | None
    breakdowns: tuple[str, ...] | None
    exclude_breakdowns: tuple[str, ...]
    years: str  # all | release
    transpose: bool


@dataclass(frozen=True)
class TableSpec:
    id: str
    theme: str
    title: str
    measures: tuple[MeasureRef, ...]
    geographic_level: str
    include_england: bool
    years: str  # all | release
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    labels: dict[str, str] = field(hash=False, compare=False, default_factory=dict)
    notes: tuple[str, ...] = ()
    interactive: bool = False
    chart: ChartSpec | None = None
    headline: bool = False  # shown on the main page (index.html); the others are on tables.html
    source_in_labels: bool = False  # each measure's label starts with its source (a comparison of sources)


@dataclass(frozen=True)
class Commentary:
    """The statistician's words for one part of the page (main points or a section): paragraphs
    of text whose numbers are written `{{ figure("measure.breakdown.geography") }}` (a figure id,
    with or without its year), rendered by pipelines/release/commentary.py."""

    key: str
    paragraphs: tuple[str, ...]
    file: Path


@dataclass(frozen=True)
class YearSettings:
    """reports/years/<year>.yaml: a value left as a TODO placeholder is None here and named in
    `placeholders`."""

    file: Path
    publication_date: dt.date | None = None
    status: str | None = None
    contact: str | None = None
    placeholders: tuple[str, ...] = ()
    statistician: str | None = None
    next_update: str | None = None
    updates: tuple[tuple[dt.date, str], ...] = ()  # (date, change note), oldest first
    commentary: dict[str, Commentary] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str


@dataclass(frozen=True)
class ReleaseConfig:
    title: str
    summary: str
    publisher: str
    contact: str
    status: str
    status_options: dict[str, str]
    publication_dates: dict[str, dt.date]
    population_vintages: tuple[int, ...]
    coverage_threshold: float  # percent of expected authorities, or of their population, that is full coverage
    other_downloads: tuple[dict[str, str], ...]
    trace_command: str
    symbols: dict[str, str]
    caveats: tuple[dict[str, str], ...]
    change_note: str
    methodology_intro: str
    disclosure_text: str
    revisions: dict[str, tuple[dict[str, str], ...]]
    main_points: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    tables: tuple[TableSpec, ...]
    years: dict[str, YearSettings] = field(default_factory=dict)  # reports/years/<year>.yaml
    statistician: str = ""
    feedback: str = ""
    next_update: str = ""
    commentary: dict[str, Commentary] = field(default_factory=dict)  # year-independent words, by key
    sources_compared: tuple[dict[str, str], ...] = ()

    def _of_year(self, year: str, key: str) -> str:
        """The year's own value of a setting (reports/years/<year>.yaml), else the release's."""
        got = self.years.get(year)
        return getattr(got, key, None) or getattr(self, key)

    def statistician_for(self, year: str) -> str:
        return self._of_year(year, "statistician")

    def next_update_for(self, year: str) -> str:
        return self._of_year(year, "next_update")

    def updates_for(self, year: str) -> tuple[tuple[dt.date, str], ...]:
        got = self.years.get(year)
        return got.updates if got else ()

    def commentary_for(self, year: str) -> dict[str, Commentary]:
        """release.yaml's commentary, each key replaced by the year's own where it has one."""
        got = self.years.get(year)
        return {**self.commentary, **(got.commentary if got else {})}

    def status_for(self, year: str) -> str:
        return self._of_year(year, "status")

    def contact_for(self, year: str) -> str:
        return self._of_year(year, "contact")

    def unfinished(self, year: str) -> list[str]:
        """What a final release of `year` still lacks in its configuration, one phrase each."""
        got = self.years.get(year)
        if got is None:
            return [f"no file {YEARS_DIR.name}/{year}.yaml in {YEARS_DIR.parent} (make it with 'dasa new-year {year}')"]
        where = f"{got.file.parent.name}/{got.file.name}"
        out = [f"{where}: {key} is still {PLACEHOLDER}" for key in got.placeholders]
        if got.publication_date is None and "publication_date" not in got.placeholders:
            out.append(f"{where}: no publication_date")
        return out


def load_years(folder: Path = YEARS_DIR) -> dict[str, YearSettings]:
    """Every reports/years/<year>.yaml, by financial year."""
    out: dict[str, YearSettings] = {}
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        m = _YEAR_FILE.match(path.name)
        if not m or (int(m[1]) + 1) % 100 != int(m[2]):
            raise ConfigError(f"{path}: a year file is named after its financial year, like 2025-26.yaml")
        raw, node = read_mapping(path, ConfigError, "a mapping of publication_date, status and contact", empty=True)
        check(path, raw, node, YearModel, ConfigError)
        placeholders = tuple(k for k, v in raw.items() if str(v).strip().upper().startswith(PLACEHOLDER))
        values = {k: v for k, v in raw.items() if k not in placeholders and v is not None}
        date = values.get("publication_date")
        if date is not None and not isinstance(date, dt.date):
            try:
                date = dt.date.fromisoformat(str(date))
            except ValueError:
                raise ConfigError(f"{path}: publication_date {date!r} is not a date written YYYY-MM-DD") from None
        status = _text(values["status"]) if "status" in values else None
        if status is not None and status not in STATUS_LABELS:
            raise ConfigError(f"{path}: status {status!r} is not one of {', '.join(STATUS_LABELS)}")
        updates = []
        for u in values.get("updates") or []:
            when = u["date"]
            if not isinstance(when, dt.date):
                try:
                    when = dt.date.fromisoformat(str(when))
                except ValueError:
                    raise ConfigError(f"{path}: updates: date {when!r} is not a date written YYYY-MM-DD") from None
            updates.append((when, _text(u["note"])))
        out[path.stem] = YearSettings(
            path, date, status, _text(values["contact"]) if "contact" in values else None, placeholders,
            statistician=_text(values["statistician"]) if "statistician" in values else None,
            next_update=_text(values["next_update"]) if "next_update" in values else None,
            updates=tuple(sorted(updates, key=lambda u: u[0])),
            commentary=_commentary(values.get("commentary"), path),
        )
    return out


COMMENTARY_MAIN = "main_points"  # the key of the commentary above the main points


def _commentary(raw: Any, path: Path) -> dict[str, Commentary]:
    out = {}
    for key, value in (raw or {}).items():
        if value is None:
            continue
        paragraphs = value if isinstance(value, list) else [value]
        out[str(key)] = Commentary(str(key), tuple(_text(p) for p in paragraphs if _text(p)), path)
    return out


def _check_commentary_keys(commentary: dict[str, Commentary], sections: set[str]) -> None:
    for key, c in commentary.items():
        if key != COMMENTARY_MAIN and key not in sections:
            raise ConfigError(f"{c.file}: commentary {key!r} is neither {COMMENTARY_MAIN} nor a section id "
                              f"({', '.join(sorted(sections))})")


def _text(value: Any) -> str:
    return " ".join(str(value).split())


def _tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    return tuple(str(v) for v in value)


def _dims(value: Any, where: str) -> tuple[str, ...]:
    dims = _tuple(value, where)
    for d in dims:
        if d not in DIMENSIONS:
            raise ConfigError(f"{where}: unknown dimension {d!r} (use one of {', '.join(DIMENSIONS)})")
    return dims


def _chart(raw: dict[str, Any] | None, where: str) -> ChartSpec | None:
    if not raw:
        return None
    ctype = raw.get("type", "line")
    if ctype not in CHART_TYPES:
        raise ConfigError(f"{where}: unknown chart type {ctype!r}")
    years = raw.get("years", "all")
    if years not in ("all", "release"):
        raise ConfigError(f"{where}: years must be all or release")
    return ChartSpec(
        type=ctype,
        title=_text(raw["title"]) if raw.get("title") else None,
        measures=_tuple(raw["measures"], where) if raw.get("measures") else None,
        breakdowns=_tuple(raw["breakdowns"], where) if raw.get("breakdowns") else None,
        exclude_breakdowns=_tuple(raw.get("exclude_breakdowns"), where),
        years=years,
        transpose=bool(raw.get("transpose", False)),
    )


# Names of the release's own CSV files (data/<name>.csv): a table id, which names the
# table's CSV and trace page, may not be one of them.
RESERVED_TABLE_IDS = frozenset({"figures", "metadata", "returns", "issues", "revisions", "quality_issues",
                                "validation_results"})


def _table(raw: dict[str, Any], sections: set[str]) -> TableSpec:
    tid = str(raw.get("id", ""))
    where = f"table {tid or '?'}"
    # the id names data/<id>.csv and trace/<id>.html: ASCII only, and never a device name
    if not re.fullmatch(r"[a-z0-9_]+", tid) or name_problem(tid) is not None:
        raise ConfigError(f"{where}: id must be lower-case letters (a-z), digits and _, and not a name "
                          "Windows keeps for a device (con, nul, com1, ...)")
    theme = raw.get("theme")
    if theme not in sections:
        raise ConfigError(f"{where}: theme {theme!r} is not a section")
    level = raw.get("geographic_level", "national")
    if level not in GEOGRAPHIC_LEVELS:
        raise ConfigError(f"{where}: unknown geographic level {level!r}")
    years = raw.get("years", "all")
    if years not in ("all", "release"):
        raise ConfigError(f"{where}: years must be all or release")
    default_breakdowns = _tuple(raw["breakdowns"], where) if raw.get("breakdowns") else None
    refs = []
    for m in raw.get("measures") or []:
        if isinstance(m, str):
            refs.append(MeasureRef(m, default_breakdowns))
        elif isinstance(m, dict) and "measure" in m:
            b = _tuple(m["breakdowns"], where) if m.get("breakdowns") else default_breakdowns
            refs.append(MeasureRef(str(m["measure"]), b))
        else:
            raise ConfigError(f"{where}: bad measure entry {m!r}")
    if not refs:
        raise ConfigError(f"{where}: no measures")
    rows = _dims(raw.get("rows"), where)
    columns = _dims(raw.get("columns"), where)
    if not rows or not columns:
        raise ConfigError(f"{where}: rows and columns are both required")
    if set(rows) & set(columns):
        raise ConfigError(f"{where}: a dimension is in both rows and columns")
    if len(set(rows)) != len(rows) or len(set(columns)) != len(columns):
        raise ConfigError(f"{where}: a dimension is repeated")
    labels = {str(k): _text(v) for k, v in (raw.get("labels") or {}).items()}
    for k in labels:
        if k not in DIMENSIONS:
            raise ConfigError(f"{where}: label for unknown dimension {k!r}")
    return TableSpec(
        id=tid,
        theme=theme,
        title=_text(raw["title"]),
        measures=tuple(refs),
        geographic_level=level,
        include_england=bool(raw.get("include_england", False)),
        years=years,
        rows=rows,
        columns=columns,
        labels=labels,
        notes=_tuple(raw.get("notes"), where),
        interactive=bool(raw.get("interactive", False)),
        chart=_chart(raw.get("chart"), where),
        headline=bool(raw.get("headline", False)),
        source_in_labels=bool(raw.get("source_in_labels", False)),
    )


def default_config_path() -> Path:
    """reports/release.yaml, or the configuration named by DASA_RELEASE_CONFIG."""
    return Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else CONFIG_FILE


def load_config(path: Path | None = None) -> ReleaseConfig:
    default = default_config_path()
    path = path or default
    raw, node = read_mapping(Path(path), ConfigError, "a mapping of the release's settings (see reports/README.md)")
    check(path, raw, node, ReleaseModel, ConfigError)  # unknown keys and wrong types, with their line
    status = _text(raw.get("status") or STATUS_LABELS[0])
    if status not in STATUS_LABELS:
        raise ConfigError(f"status {status!r} is not one of {STATUS_LABELS}")
    beside = Path(path).parent / YEARS_DIR.name  # a copy of release.yaml elsewhere uses the project's years
    fallback = default.parent / YEARS_DIR.name
    years = load_years(beside if beside.is_dir() else fallback if fallback.is_dir() else YEARS_DIR)
    sections = tuple(
        Section(id=str(s["id"]), title=_text(s["title"]), intro=_text(s.get("intro", "")))
        for s in raw.get("sections") or []
    )
    section_ids = {s.id for s in sections}
    if len(section_ids) != len(sections):
        raise ConfigError("section ids must be unique")
    tables = tuple(_table(t, section_ids) for t in raw.get("tables") or [])
    ids = [t.id for t in tables]
    if len(set(ids)) != len(ids):
        raise ConfigError("table ids must be unique")
    reserved = sorted(RESERVED_TABLE_IDS & set(ids))
    if reserved:
        raise ConfigError(f"table id(s) {', '.join(reserved)} are reserved: they name other files of the "
                          f"release's data folder ({', '.join(sorted(RESERVED_TABLE_IDS))})")
    main_points = []
    for mp in raw.get("main_points") or []:
        main_points.append((str(mp["measure"]), str(mp.get("breakdown", "all"))))
    commentary = _commentary(raw.get("commentary"), Path(path))
    for c in (commentary, *(y.commentary for y in years.values())):
        _check_commentary_keys(c, section_ids)
    caveat_ids = [str(c["id"]) for c in raw.get("caveats") or [] if c.get("id")]
    if len(set(caveat_ids)) != len(caveat_ids):
        raise ConfigError(f"{path}: caveat ids must be unique")
    revisions = {
        str(y): tuple({str(k): _text(v) for k, v in r.items()} for r in (rs or []))
        for y, rs in (raw.get("revisions") or {}).items()
    }
    return ReleaseConfig(
        title=_text(raw["title"]),
        summary=_text(raw.get("summary", "")),
        publisher=_text(raw["publisher"]),
        contact=_text(raw["contact"]),
        status=status,
        status_options={str(k): _text(v) for k, v in (raw.get("status_options") or {}).items()},
        publication_dates={y: v.publication_date for y, v in years.items() if v.publication_date},
        population_vintages=tuple(int(v) for v in raw.get("population_vintages") or []),
        coverage_threshold=float(raw.get("coverage_threshold", 90)),
        other_downloads=tuple(
            {k: _text(v) for k, v in d.items()} for d in raw.get("other_downloads") or []
        ),
        trace_command=_text(raw.get("trace_command", "")),
        symbols={str(k): _text(v) for k, v in (raw.get("symbols") or {}).items()},
        caveats=tuple({k: _text(v) for k, v in c.items()} for c in raw.get("caveats") or []),
        change_note=_text(raw.get("change_note", "")),
        methodology_intro=_text(raw.get("methodology_intro", "")),
        disclosure_text=_text(raw.get("disclosure_text", "")),
        revisions=revisions,
        main_points=tuple(main_points),
        sections=sections,
        tables=tables,
        years=years,
        statistician=_text(raw.get("statistician", "")),
        feedback=_text(raw.get("feedback", "")),
        next_update=_text(raw.get("next_update", "")),
        commentary=commentary,
        sources_compared=tuple({str(k): _text(v) for k, v in s.items()} for s in raw.get("sources_compared") or []),
    )
