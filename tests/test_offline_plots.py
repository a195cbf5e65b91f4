"""`dvc plots show` draws its charts offline: .dvc/config's plots.html_template inlines vega, vega-lite and vega-embed.

DVC's default page loads them from cdn.jsdelivr.net. A throwaway git + DVC project in a temp folder gets this
repository's setting and page template, dvc.yaml's own top-level `plots:` section and chart template over a
small metrics/curves.csv of two experiments, and `dvc plots show`; headless Chromium then opens the written
page with networking off, and each chart must draw a line per experiment.
The same page from DVC's default template is the negative control: it shows what a failure looks like.
The screenshot is kept as test-artifacts/dvc-plots-offline.png.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reprozoo import ROOT

ARTIFACTS = ROOT / "test-artifacts"
MAX_TRACKED_BYTES = 2_000_000  # the repository refuses larger tracked files

# dvc.yaml's own charts: what `dvc plots show` draws in the project
PLOTS = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
HISTORIES = {  # epoch, train_loss, train_accuracy
    "run-a": [(1, 1.09, 0.67), (2, 0.31, 0.91), (3, 0.21, 0.94), (4, 0.16, 0.95)],
    "run-b": [(1, 0.62, 0.81), (2, 0.19, 0.94), (3, 0.12, 0.96), (4, 0.09, 0.97)],
}
PLOT_IDS = tuple(name for entry in PLOTS for name in entry)


def dvc(*args: str, cwd: Path) -> str:
    """The venv's dvc in `cwd`; fails the test with its output when it exits non-zero."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVC_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["DVC_NO_ANALYTICS"] = "1"
    result = subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"dvc {' '.join(args)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def template_path() -> Path:
    """The template the project's .dvc/config names; DVC resolves a relative plots.html_template against .dvc/."""
    value = dvc("config", "--project", "plots.html_template", cwd=ROOT).strip()
    assert value, "plots.html_template is not set in .dvc/config"
    return (ROOT / ".dvc" / value).resolve()


def offline_chromium(page: Path, profile: Path, screenshot: Path) -> tuple[str, list[str]]:
    """The DOM of the file:// `page` in headless Chromium with networking off, and its console messages."""
    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("chromium not found; install it with: make chromium")
    shutil.rmtree(profile, ignore_errors=True)  # a fresh profile: no cache that could hold the CDN's scripts
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
           "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
           # Networking off: every request goes to a closed proxy port and no host name resolves.
           "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--enable-logging=stderr", "--v=0",  # console messages (warnings, uncaught errors) on stderr
           "--virtual-time-budget=10000", "--window-size=1200,700", f"--screenshot={screenshot}", "--dump-dom",
           page.as_uri()]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def plot_divs(dom: str) -> dict[str, str]:
    """Each plot's div in the dumped DOM (from its opening tag to the next plot's), by id."""
    body = dom[dom.rindex("<body>"):]  # the inlined scripts hold "<body>" in strings too
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<div id="([^"]+)"[^>]*>', body)
              if m.group(1) in PLOT_IDS]
    ends = [start for start, _ in starts[1:]] + [len(body)]
    return {plot_id: body[start:end] for (start, plot_id), end in zip(starts, ends)}


def drawn(div: str) -> bool:
    """Vega drew the chart: its marks are a <canvas> or an <svg> with class "marks" (the actions menu is an svg too)."""
    return re.search(r'<(canvas|svg)\b[^>]*class="marks"', div) is not None


def visible_text(dom: str) -> str:
    body = dom[dom.rindex("<body>"):]
    text = re.sub(r"<script.*?</script>|<style.*?</style>|<!--.*?-->", "", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def test_template_inlines_the_libraries_dvc_render_pins():
    """The template holds the vega, vega-lite and vega-embed versions dvc-render loads from the CDN, no CDN tags.

    Fails after an upgrade of dvc-render that moves them: regenerate the template (see its first comment).
    """
    from dvc_render.vega import VegaRenderer

    template = template_path()
    text = template.read_text(encoding="utf8")
    pinned = set(re.findall(r"cdn\.jsdelivr\.net/npm/([a-z-]+@[0-9.]+)", VegaRenderer.SCRIPTS))
    assert len(pinned) == 3, VegaRenderer.SCRIPTS
    assert set(re.findall(r"\(npm: ([a-z-]+@[0-9.]+),", text)) == pinned
    assert "{plot_divs}" in text and "{scripts}" not in text and "cdn.jsdelivr.net" not in text
    assert text.count("<script>") == 3 and text.count("BSD-3-Clause") >= 3
    assert template.stat().st_size < MAX_TRACKED_BYTES
    ignored = subprocess.run(["git", "check-ignore", "-q", str(template)], cwd=ROOT)
    assert ignored.returncode == 1, f"{template} is git-ignored; the config would point at an uncommitted file"


@pytest.mark.ui
def test_dvc_plots_show_draws_the_charts_offline(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    dvc("init", "-q", cwd=project)
    curves = ["experiment,epoch,train_loss,train_accuracy"]
    curves += [",".join(map(str, (run, *row))) for run, rows in HISTORIES.items() for row in rows]
    (project / "metrics").mkdir()
    (project / "metrics" / "curves.csv").write_text("\n".join(curves) + "\n")
    (project / "dvc.yaml").write_text(yaml.safe_dump({"plots": PLOTS}))
    for chart in {spec["template"] for entry in PLOTS for spec in entry.values()}:  # .dvc/plots/<name>.json
        (project / ".dvc" / "plots").mkdir(exist_ok=True)
        shutil.copyfile(ROOT / ".dvc" / "plots" / f"{chart}.json", project / ".dvc" / "plots" / f"{chart}.json")

    # Negative control: DVC's default page, before the project gets the setting.
    dvc("plots", "show", "-o", "cdn_plots", cwd=project)
    cdn_page = project / "cdn_plots" / "index.html"
    assert "cdn.jsdelivr.net/npm/vega@" in cdn_page.read_text(encoding="utf8")
    dom, console = offline_chromium(cdn_page, tmp_path / "profile", tmp_path / "cdn.png")
    divs = plot_divs(dom)
    assert set(divs) == set(PLOT_IDS), dom[-3000:]
    assert not any(drawn(div) for div in divs.values()), "the CDN page drew charts: is networking really off?"
    assert any("Uncaught" in line for line in console), console  # vegaEmbed is not defined

    # This repository's setting and template, at the same path relative to the project root.
    template = template_path()
    relative = template.relative_to(ROOT)
    (project / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, project / relative)
    dvc("config", "plots.html_template", os.path.relpath(project / relative, project / ".dvc"), cwd=project)
    # From a subfolder: the configured path does not depend on the working directory.
    dvc("plots", "show", "-o", str(project / "dvc_plots"), cwd=project / "metrics")
    page = project / "dvc_plots" / "index.html"
    written = page.read_text(encoding="utf8")
    assert "cdn.jsdelivr.net" not in written
    assert written.count("<script>") == 3  # the three inlined libraries (DVC's own script tags have a type)
    # each chart colours by experiment and holds both experiments' rows
    assert written.count('"color": {"field": "experiment"') == len(PLOT_IDS)
    for run, rows in HISTORIES.items():
        assert written.count(f'"experiment": "{run}"') == len(rows) * len(PLOT_IDS)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dvc-plots-offline.png"
    shot.unlink(missing_ok=True)
    dom, console = offline_chromium(page, tmp_path / "profile", shot)
    (ARTIFACTS / "dvc-plots-offline.html").write_text(dom)
    divs = plot_divs(dom)
    assert set(divs) == set(PLOT_IDS), dom[-3000:]
    for plot_id, div in divs.items():
        assert 'class="vega-embed' in div and drawn(div), f"{plot_id} not drawn:\n{div[:2000]}"
    errors = [line for line in console if re.search(r"Uncaught|Error", line)]
    assert not errors, errors
    text = visible_text(dom)
    assert "error" not in text.lower(), text[:2000]
    assert shot.stat().st_size > 2 * (tmp_path / "cdn.png").stat().st_size  # drawn charts, not a blank page
