"""What pixgate counts as a server error when schemathesis fuzzes it.

Schemathesis's own `not_a_server_error` counts every error raised by a resolver
as one, so a lookup of a template that does not exist (`NOT_FOUND`) fails it.
pixgate's contract is stricter in another way: every answer is JSON, never a 5xx,
and every error carries a typed `extensions.code`, none of them an internal error.
"""

import schemathesis

INTERNAL = {"INTERNAL_SERVER_ERROR", "INTERNAL_ERROR"}


@schemathesis.check
def typed_answers(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"the gateway answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"the answer is not JSON: {response.text[:200]!r}")
    if not isinstance(body, dict) or ("data" not in body and "errors" not in body):
        raise AssertionError(f"the answer is not a GraphQL response: {str(body)[:200]}")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if not isinstance(code, str) or not code:
            raise AssertionError(f"an error without extensions.code: {error}")
        if code in INTERNAL:
            raise AssertionError(f"an internal error: {error}")
