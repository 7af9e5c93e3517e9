"""The statistician's commentary: paragraphs of text in the release configuration whose numbers
are references to published figures, never typed digits.

A number is written `{{ figure("turned_away_rate.all.E92000001") }}`: a figure id without its
year takes the release year; `{{ figure("turned_away_rate.all.E92000001.2023-24") }}` names
another year shown. It renders the published value with its unit, as the main points do
(`38.6%`, `28,190 households`). An id that names no figure of the release, or a figure that
is not a published number (`[c]` suppressed, `[x]` not available, or any other symbol), stops
the build with a sentence naming the file, the part of the page and the id: no sentence can
carry a stale number or one that disclosure control withheld.

The text runs in a sandboxed Jinja environment whose only name is `figure`; it is escaped
(its &, < and > before it is read as a template, and what an expression prints by autoescape),
so a `<` or `&` typed in the commentary is shown as typed.
"""

from __future__ import annotations

import re

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from pipelines.release.config import Commentary, ConfigError
from pipelines.release.model import STATUS_WORDS, FigureIndex

_YEAR = re.compile(r"^\d{4}-\d{2}$")


class _FigureProblem(Exception):
    pass


def figure_text(idx: FigureIndex, figure_id: str, year: str) -> tuple[str, str]:
    """(full figure id, the value with its unit) or _FigureProblem saying what is wrong."""
    fid = str(figure_id)
    parts = fid.split(".")
    if len(parts) == 3:
        parts.append(year)
    if len(parts) != 4 or not all(parts) or not _YEAR.match(parts[3]):
        raise _FigureProblem(f"{fid!r} is not a figure id (measure.breakdown.geography_code, "
                             "and optionally .YYYY-YY)")
    full = ".".join(parts)
    fig = idx.get(*parts)
    if fig is None or fig.figure_id != full:
        raise _FigureProblem(f"figure {full} does not exist in this release")
    if fig.is_symbol:
        words = STATUS_WORDS.get(fig.value_status, fig.value_status)
        raise _FigureProblem(f"figure {full} is {fig.value} ({words}), not a published number: "
                             "commentary may quote only a published number")
    return full, idx.with_unit(fig)


def _escape_text(text: str) -> str:
    """The commentary's own characters made safe before it is a template: autoescape escapes what
    an expression prints, never the text around it. Only &, < and > are written as entities (a
    quote stays as typed, so `figure("...")` still reads); a figure id has none of the three."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _environment(idx: FigureIndex, year: str) -> SandboxedEnvironment:
    env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)
    env.globals.clear()  # only figure(): no range, dict, namespace, ...

    def figure(figure_id: str) -> Markup:
        full, text = figure_text(idx, figure_id, year)
        return Markup('<span class="figure" data-figure-id="{}">{}</span>').format(full, text)

    env.globals["figure"] = figure
    return env


def render_commentary(commentary: dict[str, Commentary], idx: FigureIndex, year: str,
                      titles: dict[str, str]) -> dict[str, list[Markup]]:
    """Each key's paragraphs as HTML; ConfigError on a bad figure reference or template text.
    `titles` names the parts of the page (section titles) for the message."""
    env = _environment(idx, year)
    out: dict[str, list[Markup]] = {}
    for key, c in commentary.items():
        where = f"{c.file}: commentary {key!r}" + (f" ({titles[key]})" if key in titles else "")
        paragraphs = []
        for i, text in enumerate(c.paragraphs, start=1):
            para = f", paragraph {i}" if len(c.paragraphs) > 1 else ""
            try:
                paragraphs.append(Markup(env.from_string(_escape_text(text)).render()))
            except _FigureProblem as exc:
                raise ConfigError(f"{where}{para}: {exc}") from None
            except TemplateError as exc:
                raise ConfigError(f"{where}{para}: {' '.join(str(exc).split())} (write a number only as "
                                  '{{ figure("measure.breakdown.geography_code") }})') from None
        out[key] = paragraphs
    return out


def quoted_figures(html: str) -> list[tuple[str, str]]:
    """(figure id, text shown) of each figure quoted in rendered commentary."""
    return re.findall(r'<span class="figure" data-figure-id="([^"]+)">([^<]*)</span>', html)
