"""The MkDocs hook that makes the site's live parts: gallery pages, the API page, the runtime.

- Gallery pages (:mod:`gallery`) are generated from the demo cube at build time; each embeds
  the exported state of its views, which ``assets/geowidget/mount.js`` hands to the widgets'
  own bundle (``geowidget/static/widgets.js``, copied into the site, never fetched from a CDN).
- ``<!-- gw-view: SLUG THEME -->`` in any page is replaced by that gallery view, live.
- The API page has one entry per name of ``geowidget.__all__``, so it cannot drift.
- The notebooks (``notebooks/*.ipynb``, outside the docs folder) are added as pages; they
  are the single source of the guides that run code. Each page is the notebook executed by
  :mod:`notebook_runs` (run once per content, kept with its widget state), and ``mount.js`` draws
  its widgets from that state.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import gallery  # noqa: E402
import notebook_runs  # noqa: E402
from reference import api_page  # noqa: E402

MARKER = re.compile(r"<!-- gw-view: (?P<slug>[a-z]+) (?P<theme>light|dark) -->")
# nbconvert's page head loads MathJax and (when a diagram is present) mermaid from a CDN; the
# notebooks have neither math nor diagrams, so the block goes and no page can reach a CDN
CDN_LOADERS = re.compile(r"<!-- Load mathjax -->.*?<!-- End of mermaid configuration -->"
                         # and the loader of @jupyter-widgets/html-manager: mount.js draws the
                         # executed notebook's views from their saved state instead
                         r"|<script>\s*\(function\(\) \{\s*function addWidgetsRenderer\(\).*?</script>",
                         re.DOTALL)
WIDGET_STATE = re.compile(r'(<script type="application/vnd\.jupyter\.widget-state\+json">)(.*?)'
                          r"(</script>)", re.DOTALL)
_cube: dict[str, Any] = {}
log = logging.getLogger("mkdocs.hooks.geowidget")


def demo() -> tuple[Any, int]:
    """The demo cube, sampled for the gallery, and its full sample count (loaded once)."""
    if not _cube:
        from geowidget.demo import demo_cube

        full = demo_cube(progress=False)
        _cube["sampled"], _cube["total"] = gallery.sample_cube(full), len(full.sample_ids)
    return _cube["sampled"], _cube["total"]


@event_priority(100)  # before mkdocs-jupyter, which turns the .ipynb files into pages
def on_files(files: Files, config: Any) -> Files:
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if nb.stem in notebook_runs.KERNEL_ONLY:  # prose and code: its widgets need a kernel
            files.append(File(f"notebooks/{nb.name}", str(ROOT), config["site_dir"],
                              config["use_directory_urls"]))
            continue
        t0 = time.perf_counter()
        run = notebook_runs.executed(nb)
        log.info("notebook %s: %.0f s (kept in %s)", nb.name, time.perf_counter() - t0,
                 run.parents[1])
        # a File read from the kept copy's folder (mkdocs-jupyter wraps it, and its wrapper
        # loses a generated File's source path)
        files.append(File(f"notebooks/{nb.name}", str(run.parents[1]), config["site_dir"],
                          config["use_directory_urls"]))
    for name in ("widgets.js", "widgets.css"):
        src = ROOT / "geowidget" / "static" / name
        if not src.exists():
            raise FileNotFoundError(f"{src.name} is missing from geowidget/static; run "
                                    "`npm run build` first")
        files.append(File.generated(config, f"assets/geowidget/{name}", abs_src_path=str(src)))
    cube, total = demo()
    files.append(File.generated(config, "gallery/index.md", content=gallery.index(cube, total)))
    for view in gallery.VIEWS:
        files.append(File.generated(config, f"gallery/{view.slug}.md",
                                    content=gallery.page(view, cube, total)))
    files.append(File.generated(config, "api.md", content=api_page()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    def live(match: re.Match) -> str:
        view = next((v for v in gallery.VIEWS if v.slug == match["slug"]), None)
        if view is None:
            raise ValueError(f"{page.file.src_path}: no gallery view {match['slug']!r}; "
                             f"valid: {[v.slug for v in gallery.VIEWS]}")
        return gallery.live_html(view.make(demo()[0]), match["theme"], view.title)
    return MARKER.sub(live, markdown)


def on_post_page(output: str, page: Any, config: Any) -> str:
    def slim(match: re.Match) -> str:
        state = notebook_runs.page_state(json.loads(match[2]))
        return match[1] + json.dumps(state).replace("<", "\\u003c") + match[3]
    return WIDGET_STATE.sub(slim, CDN_LOADERS.sub("", output))
