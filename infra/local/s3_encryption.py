"""SSE-C in the embedded moto: an object stored with a customer key needs that key to be read.

moto (5.2) accepts PutObject with a customer-provided key (SSE-C) but then serves the object
to anyone. Real S3 refuses a GET or HEAD of such an object unless the request carries the same
key: without one it answers 400 InvalidRequest, with another 403 AccessDenied.
`install(patches)` patches moto's S3 responses in this process, until the patches are undone,
so that the local environment behaves the same, which is how the function's handling of an
object it may not read is tested end to end.

Only moto running in this process is patched (MotoServer's in-process server, from its start
to its stop); a separate `python -m moto.server` process keeps moto's behaviour. Objects
copied or uploaded in parts with SSE-C are not tracked.
"""

from __future__ import annotations

from typing import Any

from infra.local.patches import Patches

_ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
_KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5"
_MARK = "_imgclf_sse_customer_key_md5"  # the attribute set on moto's FakeKey
# S3's own words for a GET without the customer key.
MISSING_KEY_MESSAGE = (
    "The object was stored using a form of Server Side Encryption. "
    "The correct parameters must be provided to retrieve the object."
)


def install(patches: Patches) -> None:
    """Patch moto's S3 responses until `patches` is undone."""
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response

    class SseCustomerKeyError(S3ClientError):
        def __init__(self, code: str, message: str, status: int) -> None:
            super().__init__(code, message)
            self.code = code
            self.http_status_code = status
            self.status_code = status

    put_object = S3Response.put_object
    get_object = S3Response.get_object
    head_object = S3Response.head_object

    def recording_put_object(self: Any) -> Any:
        response = put_object(self)
        headers = _lower(self.headers)
        if _ALGORITHM in headers:
            key = self.backend.get_object(self.bucket_name, self.parse_key_name())
            if key is not None:
                setattr(key, _MARK, headers.get(_KEY_MD5, ""))
        return response

    def checking_get_object(self: Any) -> Any:
        problem = _refusal(self, self.bucket_name, self.parse_key_name(), self.headers)
        if problem is not None:
            raise SseCustomerKeyError(*problem)
        return get_object(self)

    def checking_head_object(
        self: Any, bucket_name: str, query: dict[str, Any], key_name: str, headers: Any
    ) -> Any:
        problem = _refusal(self, bucket_name, key_name, headers, query)
        if problem is not None:
            return problem[2], {}, ""  # HEAD answers have no body
        return head_object(self, bucket_name, query, key_name, headers)

    patches.replace(S3Response, "put_object", recording_put_object)
    patches.replace(S3Response, "get_object", checking_get_object)
    patches.replace(S3Response, "head_object", checking_head_object)


def _refusal(
    response: Any,
    bucket_name: str,
    key_name: str,
    headers: Any,
    query: dict[str, Any] | None = None,
) -> tuple[str, str, int] | None:
    """(code, message, status) if this read lacks the object's customer key, else None."""
    query = response.querystring if query is None else query
    version_id = (query.get("versionId") or [None])[0]
    try:
        key = response.backend.get_object(bucket_name, key_name, version_id=version_id)
    except Exception:  # a missing bucket or version: moto's own handler answers it
        return None
    stored = getattr(key, _MARK, None) if key is not None else None
    if stored is None:
        return None
    given = _lower(headers)
    if _ALGORITHM not in given:
        return "InvalidRequest", MISSING_KEY_MESSAGE, 400
    if given.get(_KEY_MD5, "") != stored:
        return "AccessDenied", "Access Denied", 403
    return None


def _lower(headers: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in dict(headers).items()}
