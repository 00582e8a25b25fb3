"""One module per figure family; the registry is ``ipcbench.views.plots``."""
