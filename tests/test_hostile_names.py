"""Hostile names and text: nothing from the inputs becomes a path, and no output holds formula text.

A workbook's `gss_code` names its query list, table ids name CSV files and trace pages: each
such name is a validated code or a hash (`pipelines.safe_paths`), and every write goes
through `inside()`. Every text cell of every output that a spreadsheet would read as a
formula is neutralised by the one rule of `pipelines.cell_text`; characters XML cannot hold
never make an `.xlsx` or `.ods` ill-formed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from pipelines.cell_text import FORMULA_STARTS, neutralise, reads_as_formula, safe_cell
from pipelines.cli import main
from pipelines.safe_paths import UnsafeName, file_name_for, hashed_name, inside, is_gss_code, name_problem
from tests.fixtures import bad_inputs as BI
from tests.fixtures import builders as B

Y = "2024-25"
NUL, FFFE = "\x00", "\ufffe"
HOSTILE_CODES = (
    "../../../PWNED", "/tmp/abs", "..\\..\\win", "CON", "nul.txt", "E06000001/../../x", "=cmd|' /C calc'!A0",
    f"E06{NUL}000001", f"E0600{FFFE}0001", "E" + "9" * 299,
)
# every name a query list may have
SAFE_QUERY_LIST = re.compile(r"(all_queries|E[0-9]{8}(_[a-z0-9-]+)?|unidentified_[0-9a-f]{12}|womens_aid|safelives)"
                             r"\.csv")
REFUSED = ("../x", "..", ".", "", "/tmp/abs", "a/b", "a\\b", "..\\..\\win", "x\x00y", "CON", "con", "Nul.txt",
           "aux.tar.gz", "COM1", "com9.csv", "LPT1.csv", "COM¹", "PRN ", "name.", "name ", "a:b", "a|b", "tab\there",
           "x" * 256, "é" * 128, "E06000001/../../x", "a..b")


# --- inside() and the names made from text -----------------------------------------------------------

@pytest.mark.parametrize("name", REFUSED)
def test_inside_refuses_every_unsafe_name(tmp_path, name):
    with pytest.raises(UnsafeName, match="refused"):
        inside(tmp_path, name)
    assert name_problem(name)


def test_inside_refuses_a_name_that_resolves_outside_the_folder(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "E06000001_hartlepool.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(UnsafeName, match="outside"):
        inside(folder, "E06000001_hartlepool.csv")


@pytest.mark.parametrize("name", ["E06000001_hartlepool.csv", "all_queries.csv", "unidentified_0123456789ab.csv",
                                  "console.csv", "dasa-2024-25.ods", "2024-25", "figures.parquet", "comma.csv"])
def test_inside_keeps_plain_names(tmp_path, name):
    assert inside(tmp_path, name) == tmp_path / name


@pytest.mark.parametrize("text", [*HOSTILE_CODES, *REFUSED])
def test_names_made_from_text_are_always_safe(tmp_path, text):
    for stem in (file_name_for(text), hashed_name(text, "unidentified")):
        assert name_problem(stem + ".csv") is None, stem
        assert inside(tmp_path, stem + ".csv").parent == tmp_path
    assert file_name_for("E06000001_hartlepool") == "E06000001_hartlepool"
    assert not is_gss_code("E06000001\n") and not is_gss_code("E٠٦000001") and is_gss_code("E06000001")
    assert re.fullmatch(r"unidentified_[0-9a-f]{12}", file_name_for("../../x"))


# --- dasa check with hostile gss codes --------------------------------------------------------------

def _write(path: Path, marker: str, code: str) -> None:
    """Put `code` where `marker` is in the workbook's XML, as a sender's program could (a
    NUL or U+FFFE in a cell: openpyxl itself would refuse a NUL)."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for zi in src.infolist():
            data = src.read(zi.filename)
            escaped = code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            dst.writestr(zi, data.replace(marker.encode(), escaped.encode("utf-8")))
    path.write_bytes(out.getvalue())


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(root).as_posix(): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() or p.is_symlink()}


def _outside_markers() -> dict[str, object]:
    """What a write outside the temporary tree would change: /tmp/abs* and the names beside
    the session's temporary folders."""
    return {p: os.stat(p).st_mtime_ns for p in ("/tmp/abs.csv", "/tmp/abs") if os.path.exists(p)}


@pytest.fixture(scope="module")
def hostile_check(small_raw, tmp_path_factory):
    """`dasa check` of the small raw folder plus one workbook per hostile gss_code, with
    --out three folders down a temporary tree: (tree root, out folder, exit code or the
    exception raised, printed, tree before, tree after, file of each code, whether /tmp/abs*
    changed)."""
    root = tmp_path_factory.mktemp("hostile_check")
    raw = root / "raw"
    shutil.copytree(small_raw, raw)
    files = {}
    for n, code in enumerate(HOSTILE_CODES):
        marker = f"HOSTILECODE{n:02d}"
        path = B.write_return(raw, Y, marker, BI.REDCAR_NAME, file_name=f"hostile_{n:02d}.xlsx")
        _write(path, marker, code)
        files[code] = f"{Y}/authority_returns/{path.name}"
    out = root / "a" / "b" / "c" / "out"
    before, outside = _tree(root.parent), _outside_markers()
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        try:
            code: int | BaseException = main(["check", "--raw-dir", str(raw), "--out", str(out)])
        except Exception as exc:  # noqa: BLE001 - each test says what it makes of a crash
            code = exc
    escaped = _outside_markers() != outside
    return root, out, code, printed.getvalue() + errors.getvalue(), before, _tree(root.parent), files, escaped


def test_check_with_hostile_codes_exits_without_a_traceback(hostile_check):
    _, _, code, printed, *_ = hostile_check
    assert code in (0, 1), repr(code)
    assert "Traceback" not in printed and "Error" not in printed


def test_check_writes_only_inside_its_out_folder_with_safe_names(hostile_check):
    root, out, _, _, before, after, _, escaped = hostile_check
    assert not escaped, "a file was written in /tmp, outside the temporary tree"
    prefix = out.relative_to(root.parent).as_posix() + "/"
    new = {p for p in after if p not in before or after[p] != before[p]}
    assert new and all(p.startswith(prefix) for p in new), sorted(p for p in new if not p.startswith(prefix))
    names = [p[len(prefix):] for p in new]
    assert all("/" not in n and SAFE_QUERY_LIST.fullmatch(n) for n in names), names
    assert not set(before) - set(after)  # nothing removed outside the out folder either


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_each_hostile_code_is_reported_escaped_in_its_own_list(hostile_check):
    _, out, _, _, _, _, files, _ = hostile_check
    combined = _rows(out / "all_queries.csv")
    for code, file in files.items():
        [row] = [r for r in combined if r["file"] == file and r["level"] == "structural"]
        assert row["authority_code"] == neutralise(code), code  # the code the workbook gave, formula-safe
        assert code.strip() in row["problem"] or repr(code.strip())[1:-1] in row["problem"], (code, row["problem"])
        own = out / f"{hashed_name(file, 'unidentified')}.csv"  # one list per unidentified workbook
        assert [r["issue_id"] for r in _rows(own)] == [row["issue_id"]]
    for path in out.glob("*.csv"):
        for r in _rows(path):
            for value in r.values():
                assert not reads_as_formula(value), (path.name, value)


# --- a release built from hostile text ----------------------------------------------------------------

ODS_NS = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
          "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
          "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0"}
XLSX_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _ods_text(element) -> str:
    """The text of an ODS cell as a spreadsheet shows it (tabs, spaces and line breaks as characters)."""
    out = []
    for p_index, p in enumerate(element.iter(f"{{{ODS_NS['text']}}}p")):
        if p_index:
            out.append("\n")
        for node in p.iter():
            tag = node.tag.rsplit("}", 1)[-1]
            if node is not p:
                out.append({"tab": "\t", "line-break": "\n"}.get(tag, ""))
                if tag == "s":
                    out.append(" " * int(node.get(f"{{{ODS_NS['text']}}}c", "1")))
            if node.text and tag not in ("tab", "line-break", "s"):
                out.append(node.text)
            if node is not p and node.tail:
                out.append(node.tail)
    return "".join(out)


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n.endswith((".xml", ".rels"))}


def _xlsx_text(c, shared: list[str]) -> str:
    """The text of an `.xlsx` cell: a shared string (t="s"), or an inline one."""
    if c.get("t") == "s":
        return shared[int(c.find(f"{XLSX_NS}v").text)]
    return "".join(t.text or "" for t in c.iter(f"{XLSX_NS}t"))


def test_hostile_text_is_neutralised_in_the_ods(bad_release):
    out, _ = bad_release
    parts = _parts(out / f"dasa-{Y}.ods")
    for name, data in parts.items():  # well-formed, U+FFFE of the input and all
        ElementTree.fromstring(data)
        assert FFFE.encode("utf-8") not in data, name
    content = ElementTree.fromstring(parts["content.xml"])
    texts = [_ods_text(c) for c in content.iter(f"{{{ODS_NS['table']}}}table-cell")
             if c.get(f"{{{ODS_NS['office']}}}value-type") == "string"]
    assert not [t for t in texts if t.startswith(FORMULA_STARTS)]
    for sheet in BI.FORMULA_SHEETS:  # quoted as typed, behind a '
        assert "'" + sheet in texts, sheet
    assert any("calc'!A0\ufffd" in t for t in texts)  # the hostile code, its U+FFFE replaced
    assert b"table:formula" not in parts["content.xml"]


def test_hostile_text_has_the_quote_prefix_in_the_xlsx(bad_release):
    out, _ = bad_release
    parts = _parts(out / f"dasa-{Y}.xlsx")
    for name, data in parts.items():
        ElementTree.fromstring(data)
        assert FFFE.encode("utf-8") not in data, name
    styles = ElementTree.fromstring(parts["xl/styles.xml"])
    quoted = [xf.get("quotePrefix") == "1" for xf in styles.find(f"{XLSX_NS}cellXfs")]
    shared = ["".join(t.text or "" for t in si.iter(f"{XLSX_NS}t"))
              for si in ElementTree.fromstring(parts["xl/sharedStrings.xml"])]
    risky = []
    for name, data in parts.items():
        if not name.startswith("xl/worksheets/sheet"):
            continue
        for c in ElementTree.fromstring(data).iter(f"{XLSX_NS}c"):
            assert c.find(f"{XLSX_NS}f") is None, (name, c.get("r"))
            text = _xlsx_text(c, shared)
            if reads_as_formula(text):
                risky.append(text)
                assert quoted[int(c.get("s", "0"))], (name, c.get("r"), text)
    assert set(BI.FORMULA_SHEETS) <= set(risky)


def test_hostile_text_is_neutralised_in_every_csv(bad_release):
    out, _ = bad_release
    numeric: dict[str, set[int]] = {}
    for r in _rows(out / "data" / "metadata.csv"):
        if r["type"] != "text":
            numeric.setdefault(r["file"], set()).add(int(r["position"]) - 1)
    seen_code = False
    for path in sorted((out / "data").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                for i, cell in enumerate(row):
                    # a value column keeps -3.2 a number; anything else starting - is text
                    if i in numeric.get(path.name, ()) and safe_cell(cell, numeric=True) == cell:
                        continue
                    assert not reads_as_formula(cell), (path.name, cell)
                    seen_code = seen_code or cell == "'" + BI.HOSTILE_CODE
    assert seen_code  # quality_issues.csv names the authority by the code it gave, prefixed


def test_the_html_stays_autoescaped(bad_release):
    from pipelines.paths import REPORTS_DIR
    from pipelines.release.render import environment

    assert environment().autoescape is True
    for template in (REPORTS_DIR / "templates").rglob("*.j2"):
        assert not re.search(r"\|\s*safe\b", template.read_text(encoding="utf-8")), template.name
    out, _ = bad_release
    quality = (out / "quality.html").read_text(encoding="utf-8")
    assert "=cmd|&#39; /C calc&#39;!A0" in quality and "=cmd|' /C" not in quality  # shown, escaped


@pytest.mark.parametrize("figure_id", ["turned_away_rate.all.E92000001./tmp", "a.b.c.2024-25x", "a.b.c.2024-26"])
def test_a_figure_id_never_names_a_folder_to_read(figure_id, capsys):
    """The year of a figure id picks the release folder that `dasa trace` reads: anything but
    a financial year is refused with a sentence, before any folder is looked at."""
    from pipelines.cli import main

    assert main(["trace", figure_id]) == 2
    err = capsys.readouterr().err
    assert "does not end in a financial year like 2024-25" in err and "Traceback" not in err


def test_a_file_name_that_is_not_text_is_named_and_its_input_verified(small_raw, tmp_path, capsys):
    """A workbook saved under bytes that are not UTF-8 (and a line break) is set aside under a
    printable form of its name, with no traceback; `dasa verify` still finds and re-hashes it."""
    from pipelines import manifest
    from pipelines.cli import main

    raw = tmp_path / "raw"
    shutil.copytree(small_raw, raw)
    folder = raw / "2024-25" / "authority_returns"
    bad = Path(os.fsdecode(bytes(folder) + b"/odd\xff\nname.xlsx"))
    shutil.copyfile(next(folder.glob("*.xlsx")), bad)
    assert main(["check", "--raw-dir", str(raw), "--year", "2024-25", "--out", str(tmp_path / "q")]) == 1
    out = capsys.readouterr()
    shown = "2024-25/authority_returns/odd\\xff\\nname.xlsx"
    assert "Traceback" not in out.err and f"{shown} [open]: its name holds bytes that are not UTF-8" in out.out
    # a manifest recording the input under that name: verify finds the file, and its change
    release = tmp_path / "release"
    release.mkdir()
    doc = {"outputs": [], "inputs": [{"path": shown, "sha256": manifest.sha256(bad)}]}
    (release / "manifest.json").write_text(json.dumps(doc), encoding="utf-8")
    assert manifest.verify(release, raw).ok
    bad.write_bytes(b"changed")
    assert manifest.verify(release, raw).problems == [f"input {shown}: changed since the release was built"]
