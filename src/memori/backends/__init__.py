"""Built-in storage backends. Each registers through the ``memori`` entry points."""
