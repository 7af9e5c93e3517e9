"""One declaration of every input table: its columns, their types and allowed codes.

The readers in `pipelines/ingest/` type and check cells from these declarations, and the
validation suites derive their schema-level expectations from them, so a column is
described once.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCOMMODATION_TYPES = ("refuge", "dispersed", "sanctuary", "second_stage", "specialist", "other")
BY_AND_FOR_GROUPS = ("black_minoritised", "disabled", "deaf", "lgbtq", "male", "other")
COMPLETENESS = ("complete", "partial", "not_collected")
IDENTITIES = ("women", "men", "trans_nonbinary", "children", "identity_not_recorded")
CHARACTERISTICS = (
    "disabled", "lgbtq", "black_minoritised", "ex_offender", "mental_health", "drug",
    "alcohol", "aged_16_25", "aged_65_plus", "nrpf", "any",
)
UNABLE_REASONS = (
    "capacity", "needs_not_met", "proximity_to_perpetrator", "nrpf",
    "declined_by_household", "supported_elsewhere", "other", "not_recorded",
)
MOVE_ON_DESTINATIONS = (
    "social_housing", "private_rented", "non_da_supported", "other_safe_accommodation",
    "friends_family", "own_home", "temporary_accommodation", "returned_to_perpetrator",
    "other", "unknown",
)
STAY_TYPES = ("refuge", "dispersed", "specialist")
STAY_BANDS = ("under_1_month", "1_to_3_months", "3_to_6_months", "over_6_months")
YES_NO = ("yes", "no")
SERVICE_TYPES = ("refuge", "community")
REFERRAL_OUTCOMES = ("accepted", "declined", "withdrawn", "pending")
DECLINE_REASONS = ("no_capacity", "needs_not_met", "nrpf", "risk_or_safety", "unable_to_contact", "other")
SUPPORT_NEEDS = (
    "mental_health", "drugs", "alcohol", "disability", "nrpf", "large_family", "older_son", "offending",
)

# Column types: count (whole number >= 0, blank = not collected), int (whole number),
# text (free text), code (one of `codes`), yesno, date (ISO date), year (YYYY-YY),
# codes_list (';'-separated codes).
TYPES = ("count", "int", "text", "code", "yesno", "date", "year", "codes_list")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    codes: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"column {self.name}: unknown type {self.type}")


@dataclass(frozen=True)
class Table:
    """A sheet of the authority return, or a CSV/Parquet extract."""

    source: str
    name: str  # sheet name or file stem
    columns: tuple[Column, ...]
    key: str | None = None  # the column whose code identifies a row (one row per code)
    key_codes: tuple[str, ...] = ()  # when set, exactly one row per code is expected
    unique: tuple[str, ...] = ()  # columns whose combination is unique

    @property
    def raw_table(self) -> str:
        return f"raw_{self.source}__{self.name}"

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _counts(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "count") for n in names)


# --- Authority returns: the `about` sheet is a field/value list --------------------------
ABOUT_FIELDS: tuple[Column, ...] = (
    Column("gss_code", "text", description="the authority's GSS code"),
    Column("authority_name", "text"),
    Column("financial_year", "year"),
    Column("template_version", "int"),
    Column("submission_number", "int"),
    Column("submitted_on", "date"),
    Column("partnership_board", "yesno"),
    Column("strategy_published", "yesno"),
    Column("services_in_house", "yesno"),
    Column("notes", "text"),
)
ABOUT_REQUIRED = ("gss_code", "financial_year", "submission_number")

SERVICES = Table(
    "authority_returns", "services",
    (
        Column("service_ref", "text"),
        Column("accommodation_type", "code", ACCOMMODATION_TYPES),
        Column("provider_name", "text"),
        Column("by_and_for", "yesno"),
        Column("by_and_for_group", "code", BY_AND_FOR_GROUPS),
        Column("units", "count"),
    ),
    unique=("service_ref",),
)
SUPPORTED = Table(
    "authority_returns", "supported",
    (
        Column("accommodation_type", "code", ACCOMMODATION_TYPES),
        *_counts("households", *IDENTITIES, "from_outside_area"),
        Column("completeness", "code", COMPLETENESS),
    ),
    key="accommodation_type", key_codes=ACCOMMODATION_TYPES,
)
CHARACTERISTICS_SHEET = Table(
    "authority_returns", "characteristics",
    (
        Column("characteristic", "code", CHARACTERISTICS),
        Column("individuals", "count"),
        Column("completeness", "code", COMPLETENESS),
    ),
    key="characteristic", key_codes=CHARACTERISTICS,
)
UNABLE_TO_SUPPORT = Table(
    "authority_returns", "unable_to_support",
    (Column("reason", "code", UNABLE_REASONS), Column("households", "count")),
    key="reason", key_codes=UNABLE_REASONS,
)
MOVE_ON = Table(
    "authority_returns", "move_on",
    (Column("destination", "code", MOVE_ON_DESTINATIONS), Column("households", "count")),
    key="destination", key_codes=MOVE_ON_DESTINATIONS,
)
LENGTH_OF_STAY = Table(
    "authority_returns", "length_of_stay",
    (Column("accommodation_type", "code", STAY_TYPES), *_counts(*STAY_BANDS)),
    key="accommodation_type", key_codes=STAY_TYPES,
)
RETURN_SHEETS: tuple[Table, ...] = (
    SERVICES, SUPPORTED, CHARACTERISTICS_SHEET, UNABLE_TO_SUPPORT, MOVE_ON, LENGTH_OF_STAY,
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
