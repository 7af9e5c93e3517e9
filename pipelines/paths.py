"""Where things live in the project. Every other module asks here."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_DIR / "assets"
REPORTS_DIR = PROJECT_DIR / "reports"
REFERENCE_DIR = PROJECT_DIR / "data" / "reference"
RAW_DIR = PROJECT_DIR / "data" / "raw"
PROCESSED_DIR = PROJECT_DIR / "data" / "processed"
RELEASES_DIR = PROCESSED_DIR / "releases"
VINTAGES_DIR = PROCESSED_DIR / "vintages"
# restricted: the audit bundle of each release year (<AUDIT_DIR>/<year>/), never published
AUDIT_DIR = PROCESSED_DIR / "audit"
