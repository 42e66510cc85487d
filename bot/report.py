"""The statistics report: tables with small counts hidden, CSV, charts and one printable page.

Built from the anonymous counters (storage.stats) and the directory's coverage; every
count is suppressed as storage.suppression says before it reaches a table, a chart or a
file. The report is for operators and the commission départementale: it is in French.
No aiogram here (`passerelle report` starts without it); matplotlib is imported where
charts are drawn, and draws with its Agg backend, without a display.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from html import escape
from typing import TYPE_CHECKING

from babel import Locale
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.loader import ORIENTATION, load_script
from storage import stats
from storage.coverage import audit
from storage.places import Places, places
from storage.suppression import Cell, suppress

if TYPE_CHECKING:
    from matplotlib.axes import Axes

OUTCOMES = {
    "accept": "acceptées",
    "decline": "déclinées",
    "pass_on": "transmises à une autre association",
    "undelivered": "non remises (aucune association joignable)",
}
OTHER_EVENTS = {
    "reply": "réponses d'associations",
    "no_association": "demandes sans association possible",
    "quick_exit": "sorties rapides",
    "emergency": "écrans d'urgence affichés",
    "limit": "limites atteintes",
}
BUCKET_LABELS = {"<1h": "< 1 h", "1-6h": "1 à 6 h", "6-24h": "6 à 24 h", "1-3d": "1 à 3 jours", ">3d": "> 3 jours"}
NOT_GIVEN = "non renseigné"
NEEDS_NOTE = "Une demande peut exprimer plusieurs besoins : pas de total."
COVERAGE = {
    "covered": ("association éligible", "#2e7d32"),
    "none": ("aucune association", "#bdbdbd"),
    "wanted": ("aucune association, et des demandes reçues", "#c62828"),
}
CHART_TITLES = {"carte_couverture": "Couverture des départements (au jour du rapport)"}
"""Charts that draw no table: their title."""
CHARTS = ("demandes_par_mois", "langues", "besoins", "issues", "delai_acceptation", "carte_couverture")


@dataclass
class Table:
    key: str
    title: str
    cells: list[Cell]
    total: Cell | None = None
    note: str = ""


@dataclass
class Report:
    first: str
    last: str
    minimum: int
    departement: str | None = None
    """Set for a département's report: its own counts; breakdowns stay network-wide."""
    departement_name: str = ""
    tables: list[Table] = field(default_factory=list)
    coverage: dict[str, str] = field(default_factory=dict)
    """Code -> a key of COVERAGE, for every département."""
    places: Places | None = None

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    @property
    def scope(self) -> str:
        return f"{self.departement} {self.departement_name}" if self.departement else "ensemble du réseau"

    @property
    def period(self) -> str:
        return self.first if self.first == self.last else f"{self.first} à {self.last}"


@cache
def option_labels(store: str) -> dict[str, str]:
    """The French label of each coded answer the script stores under `store`."""
    nodes = load_script(ORIENTATION).script.nodes
    return {o.code: o.label for n in nodes if n.store == store for o in n.options}


def language_label(locale: str) -> str:
    try:
        return Locale.parse(locale).get_display_name(Locale.parse("fr")) or locale
    except (ValueError, TypeError):
        return locale


def _sums(counts: Iterable[stats.Count], event: str, attribute: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for c in counts:
        if c.event == event and c.attribute == attribute:
            out[c.value] += c.count
    return out


def _table(
    key: str,
    title: str,
    values: Mapping[str, int],
    minimum: int,
    total: int | None = None,
    note: str = "",
) -> Table:
    """Cells in the given order; with a total, what the cells miss of it is a 'not given' cell."""
    values = dict(values)
    if total is not None and sum(values.values()) < total:
        values[NOT_GIVEN] = total - sum(values.values())
    cells, total_cell = suppress(values, minimum, total)
    return Table(key, title, cells, total_cell, note)


def build(
    counts: list[stats.Count],
    first: str,
    last: str,
    minimum: int,
    places: Places,
    uncovered: Iterable[str],
    departement: str | None = None,
) -> Report:
    """Every table of the report, each count already suppressed."""
    found = places.departement(departement) if departement else None
    report = Report(first, last, minimum, departement, found.name if found else "", places=places)
    months = stats.months(first, last)
    by_month: dict[str, int] = defaultdict(int)
    for c in counts:
        if c.event == "handoff" and (
            (c.attribute == "departement" and c.value == departement) if departement else c.attribute == stats.TOTAL
        ):
            by_month[c.month] += c.count
    total = sum(by_month.values())
    report.tables.append(
        _table("demandes_par_mois", "Demandes transmises, par mois", {m: by_month[m] for m in months}, minimum, total)
    )

    def event_total(event: str) -> int:
        if departement:
            return _sums(counts, event, "departement").get(departement, 0)
        return _sums(counts, event, stats.TOTAL).get("", 0)

    report.tables.append(
        _table(
            "issues",
            "Suites données aux demandes",
            {label: event_total(event) for event, label in OUTCOMES.items()},
            minimum,
            note="Une demande transmise à une autre association peut ensuite y être acceptée : "
            "ces nombres ne s'additionnent pas.",
        )
    )
    network = " (ensemble du réseau)" if departement else ""
    network_note = (
        "Ces répartitions ne sont pas ventilées par département : aucun compteur ne croise deux caractéristiques."
        if departement
        else ""
    )
    all_handoffs = _sums(counts, "handoff", stats.TOTAL).get("", 0)
    languages = sorted(_sums(counts, "handoff", "language").items(), key=lambda kv: (-kv[1], kv[0]))
    report.tables.append(
        _table(
            "langues",
            f"Langue de la conversation{network}",
            {language_label(k): v for k, v in languages},
            minimum,
            all_handoffs,
            network_note,
        )
    )
    breakdowns: tuple[tuple[str, str, str, str, int | None, str], ...] = (
        ("besoins", "Besoins exprimés", "need", "needs", None, NEEDS_NOTE),
        ("ages", "Tranche d'âge", "age", "age", all_handoffs, ""),
    )
    for key, title, attribute, store, whole, note in breakdowns:
        answered = _sums(counts, "handoff", attribute)
        values = {label: answered.get(code, 0) for code, label in option_labels(store).items()}
        report.tables.append(_table(key, f"{title}{network}", values, minimum, whole, note))
    buckets = _sums(counts, "accept", "time_to_accept")
    accepted = _sums(counts, "accept", stats.TOTAL).get("", 0)
    report.tables.append(
        _table(
            "delai_acceptation",
            f"Délai entre la demande et son acceptation{network}",
            {label: buckets.get(code, 0) for code, label in BUCKET_LABELS.items()},
            minimum,
            accepted if accepted >= minimum else None,
            "Mesuré à l'heure près : les heures enregistrées sont arrondies à l'heure.",
        )
    )
    if not departement:
        per_departement = _sums(counts, "handoff", "departement")
        names = {d.code: f"{d.code} {d.name}" for d in places.departements()}
        names[stats.NO_DEPARTEMENT] = NOT_GIVEN
        report.tables.append(
            _table(
                "departements",
                "Demandes transmises, par département",
                {names.get(code, code): n for code, n in sorted(per_departement.items()) if n},
                minimum,
                all_handoffs,
            )
        )
    report.tables.append(
        _table(
            "autres",
            f"Autres événements{network}",
            {label: _sums(counts, event, stats.TOTAL).get("", 0) for event, label in OTHER_EVENTS.items()},
            minimum,
            note="Comptés à chaque fois : une même personne peut en produire plusieurs.",
        )
    )
    _hide_shared_totals(report, ["langues", "ages", "departements", *([] if departement else ["demandes_par_mois"])])
    if not departement:
        _hide_shared_totals(report, ["delai_acceptation"], also=("issues", OUTCOMES["accept"]))
    without = _sums(counts, "no_association", "departement")
    gaps = set(uncovered)
    for d in places.departements():
        wanted = without.get(d.code, 0) >= minimum  # a département with fewer shows as "none" only
        report.coverage[d.code] = "covered" if d.code not in gaps else "wanted" if wanted else "none"
    return report


def _hide_shared_totals(report: Report, keys: list[str], also: tuple[str, str] | None = None) -> None:
    """Tables that publish the same total: when one must hide it (storage.suppression), the
    others would give it back, so each hides its total and every count it has; `also`, a
    (table, label) cell equal to that total, is hidden too."""
    tables = [t for t in report.tables if t.key in keys]
    if not any(t.total is not None and t.total.hidden for t in tables):
        return
    for table in tables:
        table.cells[:] = [c if c.hidden or not c.value else replace(c, hidden="complement") for c in table.cells]
        if table.total is not None and not table.total.hidden:
            table.total = replace(table.total, hidden="complement")
    if also is not None:
        cells = report.table(also[0]).cells
        cells[:] = [replace(c, hidden=c.hidden or "complement") if c.label == also[1] and c.value else c for c in cells]


# -- files --------------------------------------------------------------------


def csv_text(report: Report) -> str:
    """One line per published cell: table, label, what it shows (never a hidden count)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["tableau", "libellé", "valeur", "périmètre", "période"])
    for table in report.tables:
        for cell in [*table.cells, *([table.total] if table.total else [])]:
            writer.writerow([table.title, cell.label, cell.shown(report.minimum), report.scope, report.period])
    for code, kind in report.coverage.items():
        writer.writerow(["Couverture des départements (au jour du rapport)", code, COVERAGE[kind][0], "", ""])
    return out.getvalue()


def _bars(ax: Axes, table: Table, minimum: int, *, horizontal: bool = False) -> None:
    """Bars of the visible counts; a hidden one is an empty hatched bar labelled as in the table."""
    labels = [c.label for c in table.cells]
    heights = [c.visible or 0 for c in table.cells]
    top = max(heights, default=0) or minimum
    ghost = [top * 0.04 if c.hidden else 0 for c in table.cells]
    draw = ax.barh if horizontal else ax.bar
    bars = draw(labels, heights, color="#1565c0")
    draw(labels, ghost, color="white", edgecolor="#616161", hatch="//")
    for bar, cell, height in zip(bars, table.cells, heights, strict=True):
        text = cell.shown(minimum)
        if horizontal:
            ax.text(max(height, top * 0.04) + top * 0.01, bar.get_y() + bar.get_height() / 2, text, va="center")
        else:
            ax.text(bar.get_x() + bar.get_width() / 2, max(height, top * 0.04) + top * 0.01, text, ha="center")
    if horizontal:
        ax.invert_yaxis()
        ax.set_xlim(0, top * 1.25)
    else:
        ax.set_ylim(0, top * 1.2)
        ax.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0)
    ax.set_title(table.title, fontsize=11)


def _map(ax: Axes, side: Axes, report: Report) -> None:
    """Each département's reference point, coloured by coverage and labelled with its code;
    overseas ones listed aside, in `side`."""
    assert report.places is not None
    overseas: list[str] = []
    for kind, (label, colour) in COVERAGE.items():
        xs, ys = [], []
        for d in report.places.departements():
            if report.coverage.get(d.code) != kind or d.latitude is None or d.longitude is None:
                continue
            if d.latitude < 40:  # outre-mer
                overseas.append(f"{d.code} {d.name} : {label}")
                continue
            xs.append(d.longitude)
            ys.append(d.latitude)
            ax.annotate(d.code, (d.longitude, d.latitude), ha="center", va="center", fontsize=5, color="#212121")
        ax.scatter(xs, ys, s=110, c=colour, label=label, edgecolors="white", linewidths=0.5)
    if report.departement and (point := report.places.point(report.departement)):
        ax.scatter([point[1]], [point[0]], s=260, facecolors="none", edgecolors="black", linewidths=1.5)
    ax.set_aspect(1.45)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_title(CHART_TITLES["carte_couverture"], fontsize=11)
    side.axis("off")
    if overseas:
        side.text(0, 1, "Outre-mer\n\n" + "\n".join(sorted(overseas)), transform=side.transAxes, va="top", fontsize=8)


def charts(report: Report) -> dict[str, bytes]:
    """Each chart of CHARTS as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out: dict[str, bytes] = {}
    for key in CHARTS:
        wide = key == "carte_couverture"
        figure = Figure(figsize=(10, 7) if wide else (8, 4.2), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        if wide:
            ax, side = figure.subplots(1, 2, width_ratios=(3, 1))
            _map(ax, side, report)
        else:
            ax = figure.add_subplot()
            table = report.table(key)
            _bars(ax, table, report.minimum, horizontal=key in ("langues", "besoins", "issues"))
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        figure.suptitle(f"{report.scope} — {report.period}", fontsize=9, color="#616161")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        out[key] = buffer.getvalue()
    return out


def methodology(minimum: int) -> list[str]:
    return [
        "Ce qui est compté : chaque demande transmise à une association, et ce qui lui arrive ensuite "
        "(acceptée, déclinée, transmise à une autre association, non remise), ainsi que les sorties rapides, "
        "les réponses des associations, les demandes sans association possible, les écrans d'urgence affichés et "
        "les limites atteintes. Chaque événement ajoute un à des compteurs "
        "mensuels séparés : par département, par association, par langue, par besoin, par tranche d'âge, "
        "par suite donnée, par délai d'acceptation.",
        "Ce que ces compteurs n'enregistrent jamais : aucun nom, aucun identifiant Telegram, aucun texte écrit par une "
        "personne, aucun lieu plus précis que le département, aucune heure plus précise que le mois. Aucun "
        "compteur ne croise deux caractéristiques : on sait combien de demandes venaient d'un département, "
        "et combien étaient en roumain, jamais combien venaient d'un département en roumain.",
        f"Ce qui est masqué, et pourquoi : un nombre de 1 à {minimum - 1} s'affiche « < {minimum} », car un si "
        "petit nombre pourrait désigner une personne. Quand un total est publié, d'autres nombres sont aussi "
        "« masqués », les plus petits, pour qu'on ne puisse pas retrouver un nombre caché en soustrayant les "
        "nombres visibles du total ; si cela ne suffit pas, le total est masqué lui aussi.",
        "Les compteurs sont conservés après la suppression des demandes. La couverture des départements est "
        "celle de l'annuaire au jour du rapport.",
    ]


def html_page(report: Report, images: Mapping[str, bytes], made_on: dt.date) -> str:
    """One self-contained page (images as data: URIs) to read on screen or print."""
    parts = [
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'>",
        f"<title>Passerelle — statistiques {escape(report.period)}</title>",
        "<style>body{font-family:sans-serif;max-width:52em;margin:2em auto;color:#212121}"
        "img{max-width:100%;page-break-inside:avoid}table{border-collapse:collapse;margin:.5em 0 1.5em}"
        "td,th{border:1px solid #bdbdbd;padding:.2em .6em;text-align:left}td.n{text-align:right}"
        "section{page-break-inside:avoid}.note{color:#616161;font-size:.9em}</style></head><body>",
        "<h1>Passerelle — statistiques anonymes</h1>",
        f"<p><b>Périmètre :</b> {escape(report.scope)}<br><b>Période :</b> {escape(report.period)}<br>"
        f"<b>Établi le :</b> {made_on.isoformat()}</p>",
        "<h2>Méthode</h2>",
        *(f"<p>{escape(p)}</p>" for p in methodology(report.minimum)),
    ]
    for key, data in images.items():
        table = next((t for t in report.tables if t.key == key), None)
        parts.append("<section>")
        parts.append(f"<img alt='{escape(key)}' src='data:image/png;base64,{base64.b64encode(data).decode()}'>")
        if table is not None:
            parts.append(_html_table(table, report.minimum))
        parts.append("</section>")
    parts.extend(
        f"<section><h3>{escape(t.title)}</h3>{_html_table(t, report.minimum)}</section>"
        for t in report.tables
        if t.key not in images
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_table(table: Table, minimum: int) -> str:
    rows = [
        f"<tr><td>{escape(c.label)}</td><td class='n'>{escape(c.shown(minimum))}</td></tr>"
        for c in [*table.cells, *([table.total] if table.total else [])]
    ]
    note = f"<p class='note'>{escape(table.note)}</p>" if table.note else ""
    return f"<table><tr><th>{escape(table.title)}</th><th>Nombre</th></tr>{''.join(rows)}</table>{note}"


async def gather(
    db: async_sessionmaker[AsyncSession], first: str, last: str, minimum: int, departement: str | None = None
) -> Report:
    """The report of months `first` to `last`, from the counters and today's directory."""
    table = places()
    async with db() as session:
        counts = await stats.counts(session, first, last)
        found = await audit(session, dt.datetime.now(dt.UTC).date(), table)
    return build(counts, first, last, minimum, table, [code for code, _ in found.uncovered], departement)
