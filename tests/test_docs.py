"""The front door and the generated pages: README.md stays short and its links resolve; the pages
deploy/dev/gen_docs.py writes (commands, homes, benchmark records) are what it writes now, and every
home in the concept table still imports. The site itself is built strictly by `make docs`."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", REPO / "deploy" / "dev" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_a_front_door():
    assert len(README.read_text().splitlines()) <= 200  # the rest lives in docs/


def test_every_relative_link_of_the_readme_resolves():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README.read_text())
    missing = [link for link in links if "://" not in link and not (REPO / link).exists()]
    assert links and not missing


@pytest.fixture(scope="module")
def gen_docs():
    return _gen_docs()


def test_generated_pages_are_current(gen_docs):
    stale = [
        str(path.relative_to(REPO))
        for path, text in gen_docs.render().items()
        if not path.exists() or path.read_text() != text
    ]
    assert not stale, f"{stale} differ from what the code says now: run `make docs-gen`"


@pytest.mark.parametrize("home", [row[1] for row in _gen_docs().HOMES])
def test_each_concept_home_still_imports(gen_docs, home):
    """A home that moved or was renamed fails here, naming the row to update in gen_docs.HOMES."""
    assert gen_docs.resolve(home) is not None
