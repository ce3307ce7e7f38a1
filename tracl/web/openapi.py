"""The OpenAPI 3.1 document of `/api/v1`, built from the endpoints the
providers declare, so it cannot drift from what is served."""

import re

ERROR_SCHEMA = {
    'type': 'object', 'required': ['error'],
    'properties': {'error': {
        'type': 'object', 'required': ['code', 'message'],
        'properties': {'code': {'type': 'string'},
                       'message': {'type': 'string'}},
        'additionalProperties': True}},
}

#: Errors any endpoint may answer, whatever it does.
_COMMON_ERRORS = {'413': 'Request body too large',
                  '415': 'Body is not application/json',
                  '429': 'Too many requests'}
_AUTH_ERRORS = {'401': 'Missing or invalid credentials',
                '403': 'CSRF token missing or wrong'}
_BODY_ERRORS = {'400': 'Invalid input'}
_DATABASE_ERRORS = {'503': 'A service, or the database, does not answer'}


def _operation_id(method, path):
    words = re.findall(r'[a-zA-Z]+', path)
    return method.lower() + ''.join(w.capitalize() for w in words)


def _error(description):
    return {'description': description, 'content': {
        'application/json': {'schema': {'$ref': '#/components/schemas/Error'}}}}


def build_document(endpoints, version, server_url):
    paths = {}
    for endpoint in endpoints:
        path = re.sub(r'\{(\w+):int\}', r'{\1}', endpoint.path)
        operation = {'summary': endpoint.summary,
                     'operationId': _operation_id(endpoint.method, path),
                     'responses': {}}
        parameters = [{'name': name, 'in': 'path', 'required': True,
                       'schema': {'type': 'integer', 'minimum': 0}
                       if kind == 'int' else {'type': 'string'}}
                      for name, kind in re.findall(r'\{(\w+)(?::(int))?\}',
                                                   endpoint.path)]
        if parameters:
            operation['parameters'] = parameters
        if endpoint.request_schema is not None:
            operation['requestBody'] = {'required': True, 'content': {
                'application/json': {'schema': endpoint.request_schema}}}
        for status, schema in endpoint.responses.items():
            response = {'description': schema.get('description', 'OK')
                        if schema else 'No content'}
            body = {k: v for k, v in (schema or {}).items()
                    if k != 'description'}
            if body:
                response['content'] = {'application/json': {'schema': body}}
            operation['responses'][str(status)] = response
        errors = dict(_COMMON_ERRORS)
        if endpoint.auth:
            errors.update(_AUTH_ERRORS)
            operation['security'] = [{'bearer': []}, {'session': []}]
        else:
            operation['security'] = []
        if endpoint.request_schema is not None:
            errors.update(_BODY_ERRORS)
        if endpoint.needs_database:
            errors.update(_DATABASE_ERRORS)
        for status, description in getattr(endpoint.handler,
                                            'api_errors', {}).items():
            errors[str(status)] = description
        for status, description in errors.items():
            operation['responses'].setdefault(status, _error(description))
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return {
        'openapi': '3.1.0',
        'info': {'title': 'TracLearn API', 'version': version,
                 'description': 'Question-based learning paths in Trac.'},
        'servers': [{'url': server_url}],
        'paths': paths,
        'components': {
            'schemas': {'Error': ERROR_SCHEMA},
            'securitySchemes': {
                'bearer': {'type': 'http', 'scheme': 'bearer',
                           'bearerFormat': 'JWT',
                           'description': 'A Cognito ID or access token.'},
                'session': {'type': 'apiKey', 'in': 'cookie',
                            'name': 'trac_auth',
                            'description': 'The Trac session cookie; '
                            'writes also need the X-CSRF-Token header.'}}},
    }


def api_errors(**statuses):
    """Decorate a handler with the error statuses it answers, for the
    document: `@api_errors(**{'404': 'No such concept'})`."""
    def decorate(handler):
        handler.api_errors = statuses
        return handler
    return decorate
