"""The web UI served by ``pystator api`` at ``/``: machines, editor, diagram, simulator,
entities and a visual builder, written as plain ES modules and CSS shipped in the package.

What lives here:

* ``mount``: ``mount_ui(app)`` adds the page, its assets (``/ui/assets/...``, from
  ``static/``) and the helper routes, under a Content-Security-Policy that allows this host
  only;
* ``routes``: the few helper endpoints the page needs beside the public API
  (``/ui/api/...``: YAML and JSON text to data and back, and what the engine says about a
  state);
* ``static/``: ``index.html``, the ES modules (``js/``) and the styles (``css/``).

Nothing is fetched from another host. Needs the ``api`` extra, like the HTTP service itself.
"""

from __future__ import annotations

from pystator.ui.mount import ASSETS_DIR, mount_ui

__all__ = ["ASSETS_DIR", "mount_ui"]
