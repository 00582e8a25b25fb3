"""Views of result files: figures and the HTML report."""
