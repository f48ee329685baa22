"""Browser tests: headless Chromium against every client (marked ``browser``)."""
