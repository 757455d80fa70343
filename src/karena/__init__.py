"""karena: K-Sort Arena, K-Sort Eval and ArenaPO as installable software."""

__version__ = "0.1.0"
