"""Everything the app knows how to do, without Qt: the CLI, the tests and the GUI all call this."""
