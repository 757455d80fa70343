"""Services above the store and the generators: what needs both, or writes into a store.

- :mod:`karena.services.live`: live generators (stored configs checked, in-process ones
  attached) and battles on typed prompts;
- :mod:`karena.services.gallery`: importing a pre-generated gallery into an arena;
- :mod:`karena.services.demo_arena`: building the demo arena and rendering its outputs.

The store never imports this package or :mod:`karena.generators`; the web app and the CLI call
these where a store method alone does not do. Import the submodule you need; nothing is
imported here.
"""
