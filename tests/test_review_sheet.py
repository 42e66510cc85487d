"""`passerelle dialogs render --format html`: the review sheet shows what people see.

Through the command line, as moderators make it: the bot's own texts grouped by where they
appear, whole screens assembled by the bot with sample data, and, in a real browser
(Debian's headless Chromium), an Arabic sheet that renders right to left without overflow.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from bot import texts
from bot.cli.main import main
from dialogs.i18n import FSI, PDI

REQUIRE_BROWSER = "PASSERELLE_REQUIRE_BROWSER"
"""Set by CI (.ci/run): there, a missing Chromium is a failure, not a skip."""


def render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, locale: str) -> str:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'review.sqlite3'}")
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    out = tmp_path / f"review-{locale}.html"
    assert main(["dialogs", "render", "--lang", locale, "--format", "html", "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def section(page: str, title: str) -> str:
    start = page.index(f"<h2>{html.escape(title)} ")
    return page[start : page.index("</section>", start)]


def test_the_bots_texts_are_grouped_by_where_they_appear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = render(tmp_path, monkeypatch, "ar")
    assert '<th class="part" scope="row">Message</th><td class="text" lang="fr">Bonne' in page
    footer = section(page, "Footer buttons, present on every screen")
    for msgid in (texts.EMERGENCY, texts.LANGUAGE, texts.QUICK_EXIT):
        assert f'<td class="text" lang="fr">{html.escape(msgid)}</td>' in footer
    assert html.escape(texts.HELP) in section(page, "Help")
    assert html.escape(texts.CHECK_REPLIES) in section(page, "The mailbox")
    assert html.escape(texts.NOTICE_ACCEPT) in section(
        page, "The association's side (in the association's language, French by default)"
    )
    assert html.escape(texts.CHECK_REPLIES) not in section(page, "The handoff, on the person's side")
    # The header counts them, group by group.
    footer_count = '<a href="#texts-1">Footer buttons, present on every screen</a></th><td>3</td><td>0</td><td>3</td>'
    assert footer_count in page
    assert re.search(r">Help</a></th><td>1</td><td>0</td><td>1</td><td>0</td><td>0</td></tr>", page)
    # The Arabic help, through the bot's translator: "/start" stays "/start", not "start/".
    assert f"{FSI}/start{PDI}" in section(page, "Help")


def test_the_sheet_shows_whole_screens_with_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = render(tmp_path, monkeypatch, "fr")
    seen = section(page, "As the person sees it")
    for title in ("Consent", "Handoff: request sent", "Emergency", "Mailbox"):
        assert f"<h3>{title}" in seen
    assert seen.count('<span class="sample">SAMPLE</span>') >= 4
    assert "Association Exemple (SAMPLE)" in seen and "XXXX-XXXX-XXXX" in seen
    assert "<b>Ce qui sera envoyé :</b>" in seen  # the bot's own consent block, its tags kept
    assert "42-K7PX" in seen and html.escape("Voulez-vous l'envoyer ?") in seen
    assert '<span dir="auto" title="🆘 Urgence">🆘 Urgence</span>' in seen  # the footer, on every screen
    assert "17 (police)" in seen or "17" in seen.split("<h3>Emergency", 1)[1]


# -- in a real browser ----------------------------------------------------------------------

PROBE = """
<script>
addEventListener("load", () => {
  const root = document.documentElement;
  const rtl = [...document.querySelectorAll('td.text[dir="rtl"]')];
  const misaligned = [];
  for (const cell of rtl) {
    // Right-aligned: the text reaches the cell's right edge (a short left-aligned line would not).
    const range = document.createRange();
    range.selectNodeContents(cell);
    const right = Math.max(...[...range.getClientRects()].map((r) => r.right));
    const box = cell.getBoundingClientRect();
    const edge = box.right - parseFloat(getComputedStyle(cell).paddingRight) - cell.clientLeft;
    if (getComputedStyle(cell).direction !== "rtl" || !(Math.abs(right - edge) <= 3)) {
      misaligned.push(cell.textContent.slice(0, 40));
    }
  }
  const french = document.querySelector('td.text[lang="fr"]');
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({
    rtl_cells: rtl.length,
    misaligned: misaligned,
    scroll_width: root.scrollWidth,
    viewport_width: root.clientWidth,
    rtl_font: rtl.length ? parseFloat(getComputedStyle(rtl[0]).fontSize) : 0,
    french_font: parseFloat(getComputedStyle(french).fontSize),
    screens: document.querySelectorAll("article.screen").length,
  });
  document.body.append(probe);
});
</script>
"""
WIDTH, HEIGHT = 1100, 2400


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get(REQUIRE_BROWSER):
            pytest.fail("Chromium is required here (.ci/run installs Debian's chromium package)")
        pytest.skip("no Chromium: apt-get install chromium to check the sheet in a browser")
    return found


def browse(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    flags += [f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={WIDTH},{HEIGHT}"]
    done = subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_the_arabic_sheet_renders_right_to_left_in_a_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = chromium()
    page = render(tmp_path, monkeypatch, "ar")
    sheet = tmp_path / "review-ar.html"
    shot = tmp_path / "review-ar.png"
    browse(browser, tmp_path, f"--screenshot={shot}", sheet.as_uri())
    header = shot.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (WIDTH, HEIGHT)
    assert shot.stat().st_size > 50_000, "a blank page compresses to almost nothing"

    probed = tmp_path / "probe.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = browse(browser, tmp_path, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri()).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert result["rtl_cells"] > 100
    assert result["misaligned"] == [], "right-to-left cells must start at the right edge"
    assert result["scroll_width"] <= result["viewport_width"], "nothing overflows sideways"
    assert result["rtl_font"] > result["french_font"], "Arabic is larger"
    assert result["screens"] == 4


def test_every_text_of_the_bot_is_in_exactly_one_named_group() -> None:
    from bot.cli.sheet import text_groups

    groups = text_groups()
    found = [m for g in groups for m in g.msgids]
    declared: list[str] = []
    for name, value in vars(texts).items():
        if not name.isupper() or name == "TYPE_CHECKING" or callable(value):
            continue
        texts_of = value.values() if isinstance(value, dict) else [value]  # PLACE_HINTS: msgids by kind
        declared.extend(text[0] if isinstance(text, tuple) else text for text in texts_of)
    assert all(isinstance(text, str) for text in declared), declared
    assert sorted(found) == sorted(declared)
    assert all(g.title[0].isupper() and len(g.title) < 80 for g in groups)
    assert "Texts of the bot" not in [g.title for g in groups], "every text sits under a section comment"


def test_the_style_sheet_ships_with_the_package() -> None:
    """A non-editable install has the CSS: it is package data of dialogs.review."""
    import fnmatch
    import tomllib

    from dialogs.review.sheet import stylesheet

    config = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["dialogs.review"]
    assert any(fnmatch.fnmatch("sheet.css", pattern) for pattern in patterns)
    assert ".badge" in stylesheet()
