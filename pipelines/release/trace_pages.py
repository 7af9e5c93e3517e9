"""Provenance files and static trace pages: `trace/<table>.html`, one section per figure of
the table (anchor = figure_id), so a reader goes from any cell of index.html to how it was
made without a server. Pages hold the public chain only (no withheld value)."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from pipelines import provenance
from pipelines.release.context import ReleaseContext
from pipelines.release.render import STATIC_DIR, environment
from pipelines.safe_paths import inside
from pipelines.release.model import FIGURE_COLUMNS
from pipelines.trace import heading, public_chain, split_id


def write_provenance_and_trace(out_dir: Path, ctx: ReleaseContext, prov) -> list[Path]:
    written = provenance.write_public(out_dir, prov)
    index = prov.index
    folder = out_dir / provenance.TRACE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    css = Markup((STATIC_DIR / "release.css").read_text(encoding="utf-8"))  # the project's own style sheet
    template = environment().get_template("trace.html.j2")
    ids_of = {t.id: list(dict.fromkeys(c.figure_id for r in t.rows for c in r.cells if c.figure_id))
              for t in ctx.tables}
    shown = {fid for ids in ids_of.values() for fid in ids}
    fams = provenance.entries_of(prov, shown)
    # a change figure's chain goes down to the two figures it is computed from
    bases = {b for doc in fams.values() for entry in doc["figures"].values() for b in entry.get("derived_from", ())}
    if bases - shown:
        fams = provenance.entries_of(prov, shown | bases)

    def row_of(fid: str) -> dict[str, str] | None:
        fig = ctx.idx.get(*split_id(fid))
        return None if fig is None else {c: getattr(fig, c) for c in FIGURE_COLUMNS}

    for t in ctx.tables:
        figures = []
        for fid in ids_of[t.id]:
            try:
                steps = public_chain(fid, index, fams, compact=True, row_of=row_of)
            except KeyError:
                continue
            figures.append({"id": fid, "heading": heading(fid, row_of(fid), ctx.idx.catalog), "steps": steps})
        page = inside(folder, f"{t.id}.html")  # table ids are checked by release.config too
        page.write_text(template.render(ctx=ctx, table=t, figures=figures, css=css), encoding="utf-8", newline="\n")
        written.append(page)
    ctx.extra["trace_pages"] = True
    return written
