"""The ``karena`` command line (Typer). Thin: it calls the same functions the web layer calls."""
