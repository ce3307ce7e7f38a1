"""JSON log lines for CloudWatch Logs, with the fields of the request
being served (request id, learner, path, method).

Trac's log uses them when `[learning] log_format = json`
(`tracl.server.access_log.RequestObservability`); gunicorn's error log uses
`JsonLogFormatter` through docker/gunicorn.conf.py.
"""

import datetime
import json
import logging

from tracl.server.context import current_request

#: The request's fields every log line carries.
CONTEXT_FIELDS = ('request_id', 'sub', 'path', 'method')


class RequestContextFilter(logging.Filter):
    """Writes the fields of the request being served (`CONTEXT_FIELDS`)
    into each record as it is logged, in the request's own thread: a
    handler that formats later, or elsewhere, still has them."""

    def filter(self, record):
        context = current_request()
        for name in CONTEXT_FIELDS:
            setattr(record, name,
                    getattr(context, name) if context is not None else None)
        return True


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the request's context: the shape
    CloudWatch Logs Insights queries by field.

    The request's fields come from `RequestContextFilter` when the handler
    has it, else from the request the formatting thread serves. An access
    line also carries `status`, `duration_ms` and `route`, and the members
    of a CloudWatch embedded-metric document when enabled."""

    def format(self, record):
        entry = {
            'time': datetime.datetime.fromtimestamp(
                record.created, datetime.timezone.utc)
            .isoformat(timespec='milliseconds').replace('+00:00', 'Z'),
            'level': record.levelname,
            'logger': record.name,
            'message': record.getMessage(),
        }
        if hasattr(record, CONTEXT_FIELDS[0]):
            for name in CONTEXT_FIELDS:
                entry[name] = getattr(record, name, None)
        else:
            context = current_request()
            for name in CONTEXT_FIELDS:
                entry[name] = getattr(context, name) \
                    if context is not None else None
        entry['status'] = entry['duration_ms'] = None
        entry.update(getattr(record, 'tracl_fields', None) or {})
        if record.exc_info:
            entry['exception'] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry['stack'] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_json_logs(logger):
    """Make every handler of `logger` write JSON lines with the request's
    fields. Returns the handlers changed."""
    formatter = JsonLogFormatter()
    for handler in logger.handlers:
        handler.setFormatter(formatter)
        if not any(isinstance(f, RequestContextFilter)
                   for f in handler.filters):
            handler.addFilter(RequestContextFilter())
    return list(logger.handlers)
