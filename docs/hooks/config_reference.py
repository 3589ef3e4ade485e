"""MkDocs hook: fill the config reference page from the config dataclasses at build time.

docs/config-reference.md holds the marker below; `mlcore.config.reference.markdown()` writes
every key with its type, default and explanation, read from mlcore/config/sections.py.
"""

from __future__ import annotations

MARKER = "<!-- config-reference -->"


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    from mlcore.config.reference import markdown as reference

    return markdown.replace(MARKER, reference())
