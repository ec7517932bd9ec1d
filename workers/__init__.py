"""tornio's runtime: the ``tornio`` command line and the processes it runs."""
