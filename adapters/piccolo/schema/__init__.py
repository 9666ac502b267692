"""The schema: tables, column types, the Piccolo app, migrations glue, codecs."""
