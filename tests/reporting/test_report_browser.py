"""The report in a real browser: headless Chromium at 1280 px (skips without Chromium).

A copy of the page gets a measuring script (the report itself has none), every collapsed
section is opened, and the measurements are read back from ``--dump-dom``: every image
loads, no element outside a sideways-scrolling box (``.table-wrap``, ``pre``) reaches past
the viewport, the page does not scroll sideways, no table row is stretched by a long cell,
and the findings section comes first.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)
pytestmark = [pytest.mark.skipif(BROWSER is None, reason="no chromium on this machine"),
              pytest.mark.filterwarnings("ignore::UserWarning")]
WIDTH = 1280

MEASURE = """<script>
window.addEventListener('load', () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const W = document.documentElement.clientWidth;
  const bad = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.parentElement && el.parentElement.closest('.table-wrap, pre')) continue;
    const r = el.getBoundingClientRect();
    if (r.width > 0 && (r.right > W + 0.5 || r.left < -0.5)) {
      bad.push(el.tagName + '#' + el.id + '.' + el.className + ' right=' + Math.round(r.right));
    }
  }
  const imgs = [...document.images];
  const rows = [...document.querySelectorAll('tr')].map(r => r.getBoundingClientRect().height);
  const out = {width: W, scroll_width: document.documentElement.scrollWidth,
               bad: bad.slice(0, 20), n_bad: bad.length, n_imgs: imgs.length,
               imgs_loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
               first_h2: (document.querySelector('h2') || {}).id || null,
               max_row_px: Math.max(0, ...rows), n_rows: rows.length};
  const pre = document.createElement('pre');
  pre.id = 'measurements';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _example_report(out: Path) -> Path:
    spec = importlib.util.spec_from_file_location("example_report",
                                                  ROOT / "scripts" / "example_report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.example_report(out)


def measure(index: Path) -> dict:
    """Load ``index`` (a copy with :data:`MEASURE` added) in headless Chromium at 1280 px."""
    probe = index.with_name("measure.html")
    probe.write_text(index.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"),
                     encoding="utf-8")
    res = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", f"--window-size={WIDTH},900",
         "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="measurements">(.*?)</pre>', res.stdout, re.S)
    assert found, (res.returncode, res.stderr[-2000:])
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    return measure(_example_report(tmp_path_factory.mktemp("browser")))


def test_nothing_runs_off_a_1280px_page(measured):
    assert measured["width"] == WIDTH
    assert measured["n_bad"] == 0, measured["bad"]
    assert measured["scroll_width"] <= WIDTH


def test_images_load_and_findings_come_first(measured):
    assert measured["n_imgs"] >= 3 and measured["imgs_loaded"] == measured["n_imgs"]
    assert measured["first_h2"] == "findings"


def test_the_measurement_sees_a_page_that_runs_off(tmp_path):
    wide = "<td>" + "x" * 400 + "</td>"
    page = tmp_path / "index.html"
    page.write_text(f"<!DOCTYPE html><html><body><table><tr>{wide}</tr></table>"
                    f"<img src='nope.png'><h2 id='other'>x</h2></body></html>")
    m = measure(page)
    assert m["n_bad"] > 0 and m["scroll_width"] > WIDTH
    assert m["imgs_loaded"] < m["n_imgs"] and m["first_h2"] == "other"


def test_long_text_cells_do_not_stretch_rows(measured):
    assert measured["n_rows"] > 20
    assert measured["max_row_px"] < 40, measured["max_row_px"]


def test_demo_report_if_there_is_one():
    """The demo's own report (``make demo`` writes ``report/``), when it has been built."""
    index = ROOT / "report" / "index.html"
    template = ROOT / "dtors_bayes" / "reporting" / "templates" / "report.html.j2"
    if not index.exists() or index.stat().st_mtime < template.stat().st_mtime:
        pytest.skip("no report/index.html newer than the template (run the demo first)")
    m = measure(index)
    assert m["n_bad"] == 0, m["bad"]
    assert m["imgs_loaded"] == m["n_imgs"] and m["first_h2"] == "findings"
