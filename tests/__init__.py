"""geowidget's tests: a package, so test modules import shared helpers by name (tests.fixtures...)."""
