"""Reports written from verdicts: HTML, JSON, JUnit (see ``model``)."""
