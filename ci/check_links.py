"""Check the internal links of the built documentation site.

    python ci/check_links.py docs/_build/html

Every relative ``href``/``src`` in every page must name a file of the site, and every
``#fragment`` an ``id`` in the page it points to. External links (http, https, mailto)
are not followed: the site is built where nothing outside can be reached.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            elif name in ("href", "src") and value and tag in ("a", "img", "link", "script"):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(site: Path) -> list[str]:
    """``page: link (reason)`` for every internal link that does not resolve."""
    pages = {path: _parse(path) for path in sorted(site.rglob("*.html"))}
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:")):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site)}: {link}"
            if not target.is_file():
                broken.append(f"{where} (no file {target.relative_to(site.resolve())})")
            elif parts.fragment and target.suffix == ".html":
                ids = (pages.get(target) or _parse(target)).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no anchor #{parts.fragment})")
    return broken


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "docs/_build/html").resolve()
    if not (site / "index.html").is_file():
        print(f"error: {site} holds no built site (index.html); run `nox -s docs` first")
        return 2
    broken = broken_links(site)
    for line in broken:
        print(f"broken link: {line}")
    print(f"{len(broken)} broken internal links in {sum(1 for _ in site.rglob('*.html'))} pages")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
