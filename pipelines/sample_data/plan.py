"""Where the sample data is deliberately imperfect, and who commissions by-and-for services.

These are design choices, not noise: they do not depend on the seed, so the README and the
tests can name them. Every imperfection here is placed *before* the national totals are
apportioned, so the cells that are still recorded add up to the published figures.
"""

from __future__ import annotations

# Authorities expected that year that send no return (smaller ones, early years only).
MISSING: dict[str, tuple[str, ...]] = {
    "2021-22": ("E06000001", "E06000017", "E06000053"),  # Hartlepool, Rutland, Isles of Scilly
    "2022-23": ("E06000053",),  # Isles of Scilly
    "2023-24": (),
    "2024-25": (),
}

# Authorities that resubmit: submission 1 has different figures; submission 2 is calibrated.
RESUBMISSIONS: dict[str, tuple[str, ...]] = {
    "2021-22": ("E10000018",),  # Leicestershire
    "2022-23": (),
    "2023-24": ("E06000023",),  # Bristol, City of
    "2024-25": (),
}

# authority_name as typed in the return, where it differs from the reference name.
NAME_VARIANTS: dict[tuple[str, str], str] = {
    ("2021-22", "E08000013"): "St Helens",  # reference: St. Helens
    ("2022-23", "E06000010"): "Hull City Council",  # reference: Kingston upon Hull, City of
    ("2023-24", "E06000063"): "Cumberland Council",  # reference: Cumberland
    ("2024-25", "E06000019"): "Herefordshire Council",  # reference: Herefordshire, County of
}

# Count cells holding something that is not a count: (gss, sheet, row key, column, text).
CELL_ERRORS: dict[str, tuple[tuple[str, str, str, str, str], ...]] = {
    "2021-22": (("E08000026", "supported", "refuge", "men", "n/a"),),  # Coventry
    "2022-23": (("E61000001", "unable_to_support", "capacity", "households", "1,204"),),  # GLA
    "2023-24": (("E08000017", "length_of_stay", "dispersed", "over_6_months", "-"),),  # Doncaster
    "2024-25": (("E10000031", "characteristics", "nrpf", "individuals", "#REF!"),),  # Warwickshire
}

_TYPES = ("refuge", "dispersed", "sanctuary", "second_stage", "specialist", "other")
_SUPPORTED_COUNTS = (
    "households", "women", "men", "trans_nonbinary", "children", "identity_not_recorded",
    "from_outside_area",
)  # fmt: skip

# Count cells left empty (= not collected): (gss, sheet, row key, column).
BLANK_CELLS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "2021-22": (
        # Kingston upon Hull: children not collected in any type (rows marked partial).
        *(("E06000010", "supported", t, "children") for t in _TYPES),
        # Lincolnshire: from_outside_area not collected.
        *(("E10000019", "supported", t, "from_outside_area") for t in _TYPES),
        # Portsmouth: the sanctuary row not collected at all (marked not_collected).
        *(("E06000044", "supported", "sanctuary", c) for c in _SUPPORTED_COUNTS),
    ),
    "2022-23": (("E06000027", "move_on", "unknown", "households"),),  # Torbay
    "2023-24": (("E08000032", "supported", "refuge", "identity_not_recorded"),),  # Bradford
    "2024-25": (("E06000054", "supported", "other", "identity_not_recorded"),),  # Wiltshire
}

# Free-text notes (the `about` sheet); (year, gss, submission) -> text.
NOTES: dict[tuple[str, str, int], str] = {
    ("2021-22", "E08000025", 1): (
        "Sanctuary figures count households, not installations; provider data for Q1 "
        "estimated from Q2–Q4."
    ),
    ("2021-22", "E10000018", 2): (
        "Resubmission: submission 1 counted refuge residents twice where they moved to "
        "dispersed units, and used the 2020-21 move-on figures."
    ),
    ("2022-23", "E06000043", 1): (
        "Includes LGBTQ+ “by and for” dispersed units (see strategy, p. 12, "
        "\"Safe at Home\")."
    ),
    ("2022-23", "E10000008", 1): (
        "Refuge data complete.\nSanctuary data partial, provider changed on 1 October, so "
        "Q3 and Q4 are estimates."
    ),
    ("2023-24", "E06000023", 2): (
        "Resubmitted after the provider's data check: refuge, move-on and turned-away "
        "figures corrected."
    ),
    ("2023-24", "E08000021", 1): '<script>alert("notes")</script> pasted from the provider portal',
    ("2024-25", "E06000060", 1): '=HYPERLINK("https://example.org/da-strategy","Our strategy")',
    ("2024-25", "E10000029", 1): (
        "Café-based drop-in (Lowestoft) counted under “other”; spot purchases (£) excluded, "
        "naïve duplicates removed."
    ),
}

# By-and-for services. Authorities are taken in this order; the number taken each year is
# BY_AND_FOR_COUNTS. The 2021-22 counts (union 27, Black and minoritised 24, disabled 5,
# LGBTQ+ 11) are the published ones; later years grow modestly.
BY_AND_FOR_ORDER: dict[str, tuple[str, ...]] = {
    "black_minoritised": (
        "E61000001", "E08000025", "E08000003", "E08000035", "E08000032", "E06000016",
        "E08000026", "E08000028", "E08000031", "E06000023", "E08000019", "E08000012",
        "E06000018", "E06000032", "E06000039", "E08000034", "E08000004", "E08000005",
        "E06000008", "E08000021", "E06000015", "E08000030", "E06000038", "E06000031",
        "E08000006", "E06000042",  # from 2022-23: Salford, Milton Keynes
        "E10000015", "E08000033",  # from 2023-24: Hertfordshire, Calderdale
        "E06000045", "E10000017",  # from 2024-25: Southampton, Lancashire
    ),
    "lgbtq": (
        "E61000001", "E08000003", "E06000043", "E08000025", "E08000035", "E06000023",
        "E08000012", "E08000021", "E08000019", "E06000018", "E06000026",
        "E08000006",  # from 2022-23: Salford
        "E10000032",  # from 2023-24: West Sussex
        "E06000052",  # from 2024-25: Cornwall
    ),
    "disabled": (
        "E61000001", "E08000025", "E08000003", "E08000035", "E10000030",
        "E06000023",  # from 2022-23: Bristol
        "E08000019",  # from 2023-24: Sheffield
    ),
    # Groups with no published count, kept inside authorities already counted above.
    "deaf": ("E61000001", "E08000025", "E08000035"),
    "male": ("E61000001", "E08000003"),
    "other": ("E06000016",),
}  # fmt: skip
BY_AND_FOR_COUNTS: dict[str, dict[str, int]] = {
    "2021-22": {"black_minoritised": 24, "lgbtq": 11, "disabled": 5, "deaf": 1, "male": 1, "other": 1},
    "2022-23": {"black_minoritised": 26, "lgbtq": 12, "disabled": 6, "deaf": 2, "male": 1, "other": 1},
    "2023-24": {"black_minoritised": 28, "lgbtq": 13, "disabled": 7, "deaf": 3, "male": 2, "other": 1},
    "2024-25": {"black_minoritised": 30, "lgbtq": 14, "disabled": 7, "deaf": 3, "male": 2, "other": 1},
}
# How many by-and-for services of a group an authority commissions (default 1).
BY_AND_FOR_SERVICES: dict[tuple[str, str], int] = {
    ("E61000001", "black_minoritised"): 6,
    ("E61000001", "lgbtq"): 2,
    ("E08000025", "black_minoritised"): 2,
    ("E08000003", "black_minoritised"): 2,
}


def by_and_for_groups(year: str) -> dict[str, list[str]]:
    """gss_code -> the by-and-for groups it commissions that year (in a fixed order)."""
    out: dict[str, list[str]] = {}
    for group, order in BY_AND_FOR_ORDER.items():
        for gss in order[: BY_AND_FOR_COUNTS[year][group]]:
            out.setdefault(gss, []).append(group)
    return out


def excluded_cells(year: str) -> dict[tuple[str, str, str, str], str | None]:
    """(gss, sheet, key, column) -> the text written there (None = left empty)."""
    out: dict[tuple[str, str, str, str], str | None] = {}
    for cell in BLANK_CELLS[year]:
        out[cell] = None
    for gss, sheet, key, column, text in CELL_ERRORS[year]:
        out[(gss, sheet, key, column)] = text
    return out
