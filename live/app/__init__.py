"""The stages wired on a clock: the offline render (render, settings), the live loop (run), the
engines both use (engines: model loading, shader hooks around img2img, live frame engines), the
beat tracker over a file (beats), and a run's figures (stats)."""
