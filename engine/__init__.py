"""Plain-Python core of erplibre_devops.

Nothing in this package imports odoo: it validates input, runs commands and
probes services, and the Odoo models are thin glue that persist and show what
it does.  Its tests live in ``engine/tests`` and run with pytest alone.
"""
