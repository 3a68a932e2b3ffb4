"""MkDocs hooks of the site (``hooks:`` in mkdocs.yml): the generated pages.

Thin on purpose: what is generated, and how, is :mod:`deltatheory.docs._site`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

from deltatheory.docs import _site
from deltatheory.errors import DeltaTheoryError

_staging: tempfile.TemporaryDirectory | None = None
_api_source: tempfile.TemporaryDirectory | None = None


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


@event_priority(100)  # before mkdocs-jupyter and mkdocstrings look at the files
def on_files(files, config):
    global _staging
    full = os.environ.get("DELTATHEORY_DOCS_FULL") == "1"
    try:
        generated = _site.generated_files(_root(config), fast=not full)
    except DeltaTheoryError as e:
        raise PluginError(str(e)) from None
    _staging = tempfile.TemporaryDirectory(prefix="deltatheory-docs-")
    staging = Path(_staging.name)
    _site.write_files(generated, staging)
    for rel in generated:
        if files.get_file_from_path(rel) is not None:
            raise PluginError(f"docs/{rel} is generated: remove the hand-written file")
        files.append(File(rel, str(staging), config.site_dir, config.use_directory_urls))
    return files


def on_page_markdown(markdown, page, config, files):
    try:
        return _site.expand_page(markdown, page.file.src_uri, _root(config))
    except DeltaTheoryError as e:
        raise PluginError(str(e)) from None


def on_page_content(html, page, config, files):
    return _site.polish_html(html, page.file.src_uri)


def on_post_build(config):
    global _staging, _api_source
    for tmp in (_staging, _api_source):
        if tmp is not None:
            tmp.cleanup()
    _staging = _api_source = None


@event_priority(100)  # before mkdocstrings reads its handlers' options
def on_config(config):
    global _api_source
    # the generated pages join the navigation where the hand-written index of their section is
    _site.fill_nav(config.nav, _root(config))
    # mkdocstrings reads the sources statically: show it the installed package layout
    _api_source = tempfile.TemporaryDirectory(prefix="deltatheory-api-")
    _site.source_view(_root(config), Path(_api_source.name))
    handlers = config.plugins["mkdocstrings"].config["handlers"]
    handlers.setdefault("python", {})["paths"] = [_api_source.name]
    return config
