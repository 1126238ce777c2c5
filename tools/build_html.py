"""Static HTML of every notebook, with its committed outputs, and an index page: build/html/.

    python tools/build_html.py [--output build/html]

Links between notebooks (`NN_name.ipynb`) become links between pages (`NN_name.html`); index.html is
the series map (00_index). Every relative link and anchor in the pages is then checked, and the script
exits 1 naming each broken one. External links are not followed: the build runs offline.
"""

import argparse
import html.parser
import pathlib
import re
import shutil
import sys

import nbformat
from nbconvert import HTMLExporter

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_LINK = re.compile(r'href="(\d\d_[\w-]+)\.ipynb(#[^"]*)?"')


class LinkCollector(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])


def build(output):
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    exporter = HTMLExporter(template_name="lab")
    pages = []
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        body, _ = exporter.from_notebook_node(nbformat.read(path, as_version=4))
        body = NOTEBOOK_LINK.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)
        page = output / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
    shutil.copy(output / "00_index.html", output / "index.html")
    return pages


def check_links(output):
    parsed = {}
    for page in sorted(output.glob("*.html")):
        collector = LinkCollector()
        collector.feed(page.read_text(encoding="utf-8"))
        parsed[page.name] = collector
    broken = []
    for name, collector in parsed.items():
        for link in collector.links:
            if re.match(r"[a-z][a-z0-9+.-]*:", link) or link.startswith("//"):
                continue  # external: not followed offline
            target, _, anchor = link.partition("#")
            target = target or name
            if target not in parsed:
                broken.append(f"{name}: link to missing page {link}")
            elif anchor and anchor not in parsed[target].ids:
                broken.append(f"{name}: link to missing anchor {link}")
    return broken


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=pathlib.Path, default=ROOT / "build" / "html")
    args = parser.parse_args(argv)
    pages = build(args.output)
    broken = check_links(args.output)
    print(f"{len(pages)} pages and index.html written to {args.output}")
    for problem in broken:
        print("BROKEN", problem)
    if broken:
        return 1
    print("links checked: none broken")
    return 0


if __name__ == "__main__":
    sys.exit(main())
