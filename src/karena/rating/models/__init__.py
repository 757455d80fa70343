"""One module per online rating model: its maths, its kernel and its array forms, once."""
