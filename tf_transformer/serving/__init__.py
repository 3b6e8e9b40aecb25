"""Serving: the exported SavedModel behind TensorFlow Serving's REST API, plus a page to try it.

- ``server``: the server's process (load, warm up, serve, stop). It runs as
  its own process and imports TensorFlow and tensorflow-text only, never the
  rest of ``tf_transformer``: it serves the SavedModel the way TensorFlow
  Serving would, with no model code. Its parts, one file each:
  ``options`` (settings and flags), ``servable`` (the SavedModel),
  ``rest`` (TensorFlow Serving's JSON), ``batcher`` (dynamic batching),
  ``metrics`` (Prometheus counters), ``errors`` (a request's failure) and
  ``http_server`` (routes, limits, deadlines).
- ``cli``: the ``serve`` sub-command, which replaces its own process with
  that server.
- ``page.html``: the page served at ``GET /`` (translate, then look at the
  cross-attention of each layer and head); its attention view is the viewer
  of ``tf_transformer/viz`` (``attention_viewer.js`` and ``.css``), which the
  server reads by path and inlines (``server.read_page``).

Run::

    tf-transformer export --run-dir runs/demo --out exports/pt_en   # writes exports/pt_en/1, then 2, ...
    tf-transformer serve --export exports/pt_en        # the highest version; http://127.0.0.1:8501/
"""
