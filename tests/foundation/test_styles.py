"""Each page loads the stylesheets its markup needs.

A class styled by a page-specific stylesheet (static/css/<area>.css), used on a page or in
a partial it includes, must find that stylesheet linked from the page or the partial:
the home page once showed the queue table's "Overdue" badge as bare text because it
never loaded leads.css.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
TEMPLATES = ROOT / "templates"
CSS = ROOT / "static" / "css"
SHARED = "accord.css"  # linked from base.html: every page has it

# A rule's selector that styles a class wherever it appears: `.badge` or `.badge:hover`
# (a class only styled inside another, `.editor-grid form .row`, styles nothing alone).
_SIMPLE = re.compile(r"^\.([A-Za-z][\w-]*)(?::[\w-]+)*$")


def _styled_classes(sheet: Path) -> set[str]:
    text = re.sub(r"/\*.*?\*/", "", sheet.read_text(), flags=re.S)
    classes = set()
    for selectors in re.findall(r"([^{}]+)\{", text):
        for selector in selectors.split(","):
            match = _SIMPLE.match(selector.strip())
            if match:
                classes.add(match.group(1))
    return classes


def _with_includes(name: str, seen: set[str]) -> str:
    path = TEMPLATES / name
    if name in seen or not path.exists():
        return ""
    seen.add(name)
    text = path.read_text()
    return text + "".join(
        _with_includes(inc, seen) for inc in re.findall(r'{%\s*include\s+"([^"]+)"', text)
    )


def _classes_used(markup: str) -> set[str]:
    used = set()
    for value in re.findall(r'class="([^"]*)"', markup):
        used.update(re.sub(r"{[%{].*?[%}]}", " ", value).split())
    return used


def test_every_page_links_the_stylesheets_of_the_classes_it_uses():
    shared = _styled_classes(CSS / SHARED)
    owners: dict[str, set[str]] = {}
    for sheet in CSS.glob("*.css"):
        if sheet.name != SHARED:
            for name in _styled_classes(sheet) - shared:
                owners.setdefault(name, set()).add(sheet.name)
    pages = [p for p in TEMPLATES.rglob("*.html") if "{% extends" in p.read_text()]
    assert len(pages) > 30
    missing = {}
    for page in pages:
        markup = _with_includes(str(page.relative_to(TEMPLATES)), set())
        linked = set(re.findall(r"css/([\w-]+\.css)", markup))
        for name in sorted(_classes_used(markup)):
            if name in owners and not owners[name] & linked:
                missing.setdefault(str(page.relative_to(TEMPLATES)), []).append(
                    f".{name} ({', '.join(sorted(owners[name]))})"
                )
    assert missing == {}, missing
