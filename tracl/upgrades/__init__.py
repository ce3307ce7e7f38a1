"""Upgrades of the learning schema: `dbN.do_upgrade(env, N, cursor)` takes
the schema from version N-1 to N. Released modules are history: change the
schema by adding a module and raising `tracl.schema.SCHEMA_VERSION`."""
