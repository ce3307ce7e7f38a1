"""The production server: TracLearn's WSGI application under gunicorn and
what it tells its operators.

- `wsgi`: the WSGI entry point, `tracl.server.wsgi:application`, serving
  the Trac environment named by `TRAC_ENV` with static files in front;
- `context`: each request's id and what the logs and metrics know of it;
- `logs`: JSON log lines carrying the request's fields;
- `metrics`: request and cache figures of a process, shared with the
  other workers of the same server and added up when scraped;
- `prometheus`: those figures in Prometheus' text format;
- `observer`: the WSGI middleware that gives each request its id, names its
  route and records its figures;
- `access_log`: the component writing one access line per request (with
  CloudWatch embedded metrics when asked) and telling the observer which
  learner and handler a request had;
- `metrics_api`: `GET /api/v1/metrics`;
- `gc_freeze`: keeps Trac's per-request garbage collection cheap.
"""
