"""What a run writes for people: the ROC figure, the tables and the Markdown report."""
