"""The analysts' client of a living-hta deployment: `python -m
living_hta_client report` calls POST /analysis, writes a self-contained
HTML report and a machine-readable summary, and — given the previous run's
summary — says whether the decision changed (the living-HTA loop).

Standard library only (urllib); the report's figures are drawn by the same
plotly.js and chart definitions as the service's page, embedded in the file.
"""
