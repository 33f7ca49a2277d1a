"""The staff web workspace (`monitor serve`): server-rendered pages over the services the CLI uses.

`create_app(engine, config)` builds the application; routes live by area (auth, worklist,
patient, clinic); templates and static files ship inside the package. htmx 2.0.11 is vendored
in static/ (from the npm registry, Zero-Clause BSD licence, static/htmx-LICENSE.txt).
"""
