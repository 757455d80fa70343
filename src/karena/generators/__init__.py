"""Where contestants' outputs come from: gallery imports, live generators, demo renderers.

Import the submodules you need (``karena.generators.gallery``, ``.openai_images``, ``.python``);
nothing is imported here so that the demo renderers stay cheap to load.
"""
