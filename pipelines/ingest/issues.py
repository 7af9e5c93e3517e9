"""A problem found in an input, with its exact location."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from pipelines import schemas

SOURCE_PREFIX = {s.name: s.issue_prefix for s in schemas.SOURCES}


@dataclass(frozen=True)
class Issue:
    financial_year: str
    source: str
    file: str
    sheet: str | None  # sheet name for workbooks; None for CSV/Parquet
    row: int | None  # sheet row (workbooks) or line (CSV, header = line 1) or record (Parquet)
    column_letter: str | None
    field: str | None
    level: str
    code: str
    message: str
    # what the problem is about when its place alone does not say: the code of a missing
    # row, the Marac missing a quarter (None for a problem at one cell or line)
    subject: str | None = None

    @property
    def issue_id(self) -> str:
        """Stable across runs: made only from where the problem is and what it is, so a
        decision recorded against it still applies when the same inputs are read again."""
        parts = [self.financial_year, self.source, self.file, self.sheet, self.row, self.column_letter,
                 self.field, self.code]
        if self.subject is not None:  # only then, so every other id is what it always was
            parts.append(self.subject)
        key = "|".join(str(x) for x in parts)
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]
        return f"{SOURCE_PREFIX.get(self.source, 'XX')}-{self.financial_year}-{digest}"

    def location(self) -> str:
        """`D7` for a workbook cell, `line 12` for a CSV line, or '' for the whole file."""
        if self.sheet is not None:
            if self.column_letter and self.row:
                return f"{self.column_letter}{self.row}"
            if self.row:
                return f"row {self.row}"
            if self.field:
                return f"column {self.field}"
            return ""
        if self.row:
            where = f"line {self.row}" if self.file.endswith(".csv") else f"record {self.row}"
            return f"{where}, column {self.field}" if self.field else where
        return f"column {self.field}" if self.field else ""

    def where_and_what(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet {self.sheet}")
        loc = self.location()
        if loc:
            parts.append(loc)
        return f"{', '.join(parts)}: {self.message}"

    def as_row(self) -> dict:
        d = asdict(self)
        d["location"] = self.location()
        d["issue_id"] = self.issue_id
        return d
