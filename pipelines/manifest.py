"""manifest.json: every input and output file of a release with its SHA-256, and `dasa verify`.

`build.json` is the one output left out: it records when and by which run the release was
built, so it is the one file allowed to differ between two builds of the same inputs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.safe_paths import printable, unprintable

MANIFEST = "manifest.json"
UNLISTED = {MANIFEST, "build.json"}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_manifest(release_dir: Path, inputs: list[dict], release_status: str | None = None) -> Path:
    """Write manifest.json listing `inputs` (source, path under the raw folder, sha256) and every
    file in release_dir but the manifest and build.json; `release_status` (`DRAFT` or `final`)
    is recorded when given."""
    outputs = [
        {"path": p.relative_to(release_dir).as_posix(), "sha256": sha256(p), "bytes": p.stat().st_size}
        for p in sorted(release_dir.rglob("*"))
        if p.is_file() and p.relative_to(release_dir).as_posix() not in UNLISTED
    ]
    doc = {
        "inputs": sorted(inputs, key=lambda r: r["path"]),
        "outputs": outputs,
        "note": "build.json is not listed: it records when and by which run the release was built.",
    }
    if release_status:
        doc["release_status"] = release_status
    path = release_dir / MANIFEST
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


@dataclass
class Verification:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(release_dir: Path, raw_dir: Path | None = None) -> Verification:
    """Re-hash every output (and, given the raw folder, every input) against manifest.json."""
    result = Verification()
    manifest_path = release_dir / MANIFEST
    if not manifest_path.is_file():
        result.problems.append(f"{manifest_path} does not exist: is {release_dir} a release folder?")
        return result
    doc = json.loads(manifest_path.read_text(encoding="utf-8"))
    listed = set()
    for entry in doc["outputs"]:
        listed.add(entry["path"])
        p = release_dir / entry["path"]
        result.checked += 1
        if not p.is_file():
            result.problems.append(f"{entry['path']}: missing")
        elif sha256(p) != entry["sha256"]:
            result.problems.append(f"{entry['path']}: changed (SHA-256 differs from the manifest)")
    for p in sorted(release_dir.rglob("*")):
        rel = p.relative_to(release_dir).as_posix()
        if p.is_file() and rel not in listed and rel not in UNLISTED:
            result.problems.append(f"{rel}: not in the manifest")
    if raw_dir is not None:
        renamed: dict[str, Path] | None = None  # inputs recorded under a printable form of their name
        for entry in doc["inputs"]:
            p = raw_dir / entry["path"]
            result.checked += 1
            if not p.is_file():
                if renamed is None:
                    renamed = {printable(q.relative_to(raw_dir).as_posix()): q for q in raw_dir.rglob("*")
                               if q.is_file() and unprintable(q.name)}
                p = renamed.get(entry["path"]) or p
            if not p.is_file():
                result.problems.append(f"input {entry['path']}: not found under {raw_dir}")
            elif sha256(p) != entry["sha256"]:
                result.problems.append(f"input {entry['path']}: changed since the release was built")
    return result
