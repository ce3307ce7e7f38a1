"""TracLearn: question-based learning paths inside Trac 1.6.

The package is a set of Trac components, one module per concern:

- `tracl.api`: the interfaces of the outside services (cache, ...);
- `tracl.schema` and `tracl.upgrades`: the learning tables and their history;
- `tracl.environment`: environment creation and upgrade (schema, ticket type,
  custom fields);
- `tracl.sqlite`: the SQLite connector that enforces foreign keys;
- `tracl.cache`: the in-process and Redis caches and their keys;
- `tracl.web`: pages, the template provider and static files.
"""
